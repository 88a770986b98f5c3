"""Starting and stopping the proxy (mitmdump with the LiveToken addon) for the ``livetoken`` command."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from metrics.config import api_key_provider
from metrics.feed import FeedError, iter_feed, resolve_socket_path
from metrics.routing import Upstream, is_loopback

PR_SET_PDEATHSIG = 1


class LaunchError(Exception):
    """Something stops the proxy from starting; the message is one line saying what to do."""


@dataclass
class ProxySettings:
    port: int = 7357
    host: str = "127.0.0.1"
    anthropic_upstream: str = "https://api.anthropic.com"
    openai_upstream: str = "https://api.openai.com"
    socket: str = ""
    log_path: Path | None = None  # None: the proxy writes to this terminal
    api_key: str = ""
    allow_remote_key: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def socket_path(self) -> str:
        return resolve_socket_path(self.socket or None)

    @property
    def connect_host(self) -> str:
        """Where a client on this machine reaches the proxy (a wildcard listener via loopback)."""
        return "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host

    @property
    def url(self) -> str:
        host = f"[{self.connect_host}]" if ":" in self.connect_host else self.connect_host
        return f"http://{host}:{self.port}"


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "livetoken"


def find_mitmdump() -> str:
    beside = Path(sys.executable).with_name("mitmdump")
    found = str(beside) if beside.exists() else shutil.which("mitmdump")
    if not found:
        raise LaunchError(
            "mitmdump not found: install LiveToken with its dependencies (uv sync), "
            "or put mitmproxy 12's mitmdump on PATH"
        )
    return found


def addon_path() -> str:
    spec = importlib.util.find_spec("livetoken_addon")
    if spec is None or spec.origin is None:
        raise LaunchError(
            "livetoken_addon.py is not installed with this package: reinstall LiveToken (uv sync)"
        )
    return spec.origin


def check(settings: ProxySettings) -> None:
    """The one-line refusals: self-loop, a shared key beyond loopback, a busy port."""
    for name, url in (
        ("ANTHROPIC_BASE_URL", settings.anthropic_upstream),
        ("OPENAI_BASE_URL", settings.openai_upstream),
    ):
        try:
            upstream = Upstream.parse(url, name)
        except ValueError as exc:
            raise LaunchError(str(exc)) from None
        if upstream.is_address(settings.host, settings.port, resolve=True):
            raise LaunchError(
                f"{name}={url} is LiveToken's own address, so requests would loop: "
                f"unset it in this shell (clients need it, the proxy must not have it)"
            )
    if settings.api_key and not is_loopback(settings.host) and not settings.allow_remote_key:
        raise LaunchError(
            f"API_KEY is set and --host {settings.host} lets anyone who reaches the port spend "
            f"the {api_key_provider(settings.api_key)} key: use --host 127.0.0.1, "
            "or --allow-remote-key if you mean it"
        )
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LaunchError(
                    f"port {settings.port} on {settings.host} is in use: stop what runs there, "
                    f"or pick another port with LIVETOKEN_PORT={settings.port + 1}"
                ) from None
            raise LaunchError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None


def command(settings: ProxySettings) -> list[str]:
    return [
        find_mitmdump(),
        "-s",
        addon_path(),
        "--mode",
        f"reverse:{settings.anthropic_upstream}@{settings.host}:{settings.port}",
        "--set",
        f"livetoken_openai_upstream={settings.openai_upstream}",
        "--set",
        f"livetoken_anthropic_upstream={settings.anthropic_upstream}",
        "--set",
        f"livetoken_socket={settings.socket_path}",
        "--set",
        f"livetoken_allow_remote_key={'true' if settings.allow_remote_key else 'false'}",
        # LiveToken's own line per request replaces mitmproxy's, which prints full URLs.
        "--set",
        "flow_detail=0",
    ]


def environment(settings: ProxySettings) -> dict[str, str]:
    env = dict(os.environ)
    # The launcher decided the upstreams; base URLs meant for clients must not leak into the proxy.
    for name in ("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "API_KEY"):
        env.pop(name, None)
    if settings.api_key:
        env["API_KEY"] = settings.api_key
    env.update(settings.env)
    return env


def _die_with_parent() -> None:
    # Linux: when the launcher dies (terminal closed, kill -9), the proxy gets SIGTERM too.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the TUI's; the launcher stops the proxy


class Proxy:
    """A running mitmdump with the addon, tied to this process's life."""

    def __init__(self, settings: ProxySettings) -> None:
        check(settings)
        self.settings = settings
        self._log = None
        out = None  # no log file: the proxy writes to this terminal
        if settings.log_path is not None:
            settings.log_path.parent.mkdir(parents=True, exist_ok=True)
            # Appended, so a failed restart does not wipe the last session's log.
            self._log = open(settings.log_path, "a")  # noqa: SIM115 - closed in stop()
            self._log.write(f"--- livetoken {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n")
            self._log.flush()
            self._log_start = self._log.tell()
            out = self._log
        self.process = subprocess.Popen(
            command(settings),
            env=environment(settings),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def wait_ready(self, timeout: float = 30) -> Proxy:
        deadline = time.monotonic() + timeout
        socket_path = self.settings.socket_path
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LaunchError(f"the proxy stopped at start-up: {self.last_error()}")
            if self._publishing(socket_path) and _port_open(self.settings):
                return self
            time.sleep(0.05)
        self.stop()
        raise LaunchError(f"the proxy did not start within {timeout:.0f} s; see {self.settings.log_path}")

    def _publishing(self, socket_path: str) -> bool:
        """Is *our* proxy's feed up? A socket left by another LiveToken (or a dead one) is not."""
        if not os.path.exists(socket_path):
            return False
        try:
            hello = next(iter_feed(socket_path, timeout=1))
        except (FeedError, StopIteration, OSError):
            return False
        return hello.get("pid") == self.process.pid

    def last_error(self) -> str:
        if self.settings.log_path is None or not self.settings.log_path.exists():
            return "see the output above"
        with open(self.settings.log_path, errors="replace") as log:
            log.seek(getattr(self, "_log_start", 0))
            lines = [line.split("] ", 1)[-1] for line in log.read().splitlines() if line.strip()]
        # LiveToken's own line says what to change; mitmproxy's last words only that it stopped.
        for marker in ("livetoken:", "rror", ""):
            found = [line for line in lines if marker in line and "logged during startup" not in line]
            if found:
                return f"{found[-1]} (log: {self.settings.log_path})"
        return f"no output (log: {self.settings.log_path})"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()


def _port_open(settings: ProxySettings) -> bool:
    try:
        socket.create_connection((settings.connect_host, settings.port), timeout=0.2).close()
        return True
    except OSError:
        return False
