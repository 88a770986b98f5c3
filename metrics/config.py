"""The seed's environment variables, read once as defaults for the addon's options."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

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
        port=_int(env, "LIVETOKEN_PORT", DEFAULT_PORT, errors, 1),
        errors=errors,
    )
