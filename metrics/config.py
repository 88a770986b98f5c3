"""The seed's environment variables, read once as defaults for the addon's options."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from metrics.history import default_db_path

DEFAULT_PORT = 7357
DEFAULT_OPENAI_UPSTREAM = "https://api.openai.com"
DEFAULT_ANTHROPIC_UPSTREAM = "https://api.anthropic.com"
DEFAULT_HISTORY = 100

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(slots=True)
class EnvDefaults:
    anthropic_upstream: str = ""
    openai_upstream: str = DEFAULT_OPENAI_UPSTREAM
    api_key: str = ""
    console: bool = True
    history: int = DEFAULT_HISTORY
    socket: str = ""
    db: str = ""  # empty: no history
    prometheus: str = ""  # HOST:PORT for /metrics; empty: off
    otlp_endpoint: str = ""  # OTLP/HTTP collector URL; empty: off
    port: int = DEFAULT_PORT
    # Values that could not be read; start-up reports them instead of guessing.
    errors: list[str] = field(default_factory=list)


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected true or false, not {value!r}")


def _int(env: Mapping[str, str], name: str, default: int, errors: list[str], low: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
        if value < low:
            raise ValueError
    except ValueError:
        errors.append(f"{name}={raw!r} is not a whole number >= {low}")
        return default
    return value


def read_env(env: Mapping[str, str] | None = None) -> EnvDefaults:
    env = os.environ if env is None else env
    errors: list[str] = []
    console = True
    if "ENABLE_CONSOLE" in env:
        try:
            console = parse_bool(env["ENABLE_CONSOLE"])
        except ValueError as exc:
            errors.append(f"ENABLE_CONSOLE: {exc}")
    return EnvDefaults(
        anthropic_upstream=env.get("ANTHROPIC_BASE_URL", "").strip(),
        openai_upstream=env.get("OPENAI_BASE_URL", "").strip() or DEFAULT_OPENAI_UPSTREAM,
        api_key=env.get("API_KEY", ""),
        console=console,
        history=_int(env, "MAX_HISTORY", DEFAULT_HISTORY, errors, 1),
        socket=env.get("LIVETOKEN_SOCKET", ""),
        db=env.get("LIVETOKEN_DB", default_db_path()).strip(),
        prometheus=env.get("LIVETOKEN_PROMETHEUS", "").strip(),
        otlp_endpoint=env.get("LIVETOKEN_OTLP_ENDPOINT", "").strip(),
        port=_int(env, "LIVETOKEN_PORT", DEFAULT_PORT, errors, 1),
        errors=errors,
    )


# -- the addon's options ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    type: type
    env: str  # the seed's environment variable that gives the default
    help: str

    def default(self, env: EnvDefaults) -> object:
        return getattr(env, self.name.removeprefix("livetoken_"), False)


OPTIONS = (
    OptionSpec(
        "livetoken_anthropic_upstream",
        str,
        "ANTHROPIC_BASE_URL",
        "Anthropic upstream base URL (default: ANTHROPIC_BASE_URL, else the --mode reverse target).",
    ),
    OptionSpec(
        "livetoken_openai_upstream",
        str,
        "OPENAI_BASE_URL",
        "OpenAI upstream base URL for /v1/chat/completions and /v1/responses "
        "(default: OPENAI_BASE_URL, else https://api.openai.com).",
    ),
    OptionSpec(
        "livetoken_api_key",
        str,
        "API_KEY",
        "API key added to requests that carry no credential of their own: an sk-ant- key to "
        "Anthropic requests, any other key to OpenAI requests (default: API_KEY).",
    ),
    OptionSpec(
        "livetoken_console",
        bool,
        "ENABLE_CONSOLE",
        "Log one summary line per finished request (default: ENABLE_CONSOLE, else true).",
    ),
    OptionSpec(
        "livetoken_history",
        int,
        "MAX_HISTORY",
        "Records kept for new feed subscribers (default: MAX_HISTORY, else 100).",
    ),
    OptionSpec(
        "livetoken_socket",
        str,
        "LIVETOKEN_SOCKET",
        "Feed socket path (default: LIVETOKEN_SOCKET, else a per-user path).",
    ),
    OptionSpec(
        "livetoken_db",
        str,
        "LIVETOKEN_DB",
        "SQLite file that keeps every final record (default: LIVETOKEN_DB, else "
        "~/.local/share/livetoken/history.db; empty: no history).",
    ),
    OptionSpec(
        "livetoken_prometheus",
        str,
        "LIVETOKEN_PROMETHEUS",
        "Serve Prometheus /metrics on HOST:PORT (default: LIVETOKEN_PROMETHEUS, else off).",
    ),
    OptionSpec(
        "livetoken_otlp_endpoint",
        str,
        "LIVETOKEN_OTLP_ENDPOINT",
        "Push the same metrics over OTLP/HTTP to this collector URL; needs livetoken[otel] "
        "(default: LIVETOKEN_OTLP_ENDPOINT, else off).",
    ),
    OptionSpec(
        "livetoken_allow_remote_key",
        bool,
        "",
        "Allow API_KEY while listening beyond loopback: anyone who reaches the port spends the key.",
    ),
)
OPTION_NAMES = frozenset(spec.name for spec in OPTIONS)


def parse_option(spec: OptionSpec, raw: str) -> object:
    """A ``--set NAME=VALUE`` string as the option's type; ValueError says what is wrong."""
    if spec.type is bool:
        return parse_bool(raw)
    if spec.type is int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, not {raw!r}") from None
        if value < 1:
            raise ValueError(f"expected a number of at least 1, not {value}")
        return value
    return raw


def api_key_provider(key: str) -> str:
    """Which provider an ``API_KEY`` belongs to: Anthropic keys start with ``sk-ant-``."""
    return "anthropic" if key.startswith("sk-ant-") else "openai"


LOOP_ADVICE = {
    "livetoken_anthropic_upstream": "ANTHROPIC_BASE_URL (or --set livetoken_anthropic_upstream) names "
    "this proxy: clients need it, the proxy must not have it. Unset it in the proxy's shell, or "
    "--set livetoken_anthropic_upstream=https://api.anthropic.com",
    "livetoken_openai_upstream": "OPENAI_BASE_URL (or --set livetoken_openai_upstream) names this proxy: "
    "clients need it, the proxy must not have it. Unset it in the proxy's shell, or "
    "--set livetoken_openai_upstream=https://api.openai.com",
    "reverse": "the --mode reverse: target is this proxy's own address; give the real API, e.g. "
    "--mode reverse:https://api.anthropic.com@7357",
}
