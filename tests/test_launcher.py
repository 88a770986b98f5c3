"""The ``livetoken`` command: demo in a pseudo-terminal, no process left behind, one-line refusals."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from livetoken.demo import Demo, Traffic
from livetoken.launcher import LaunchError, Proxy, ProxySettings, check, find_mitmdump
from metrics.record import FINAL_STATES
from tests.conftest import ROOT
from tests.proxy import FeedReader, free_port, wait_until

BIN = Path(sys.executable).parent


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line mentions ``text`` (our unique socket path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Terminal:
    """A program in a pseudo-terminal, as a user would run it."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the program
            os.chdir(ROOT)
            os.execve(
                args[0],
                args,
                {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40", **env},
            )
        self.screen = b""

    def read_until(self, *needles: bytes, timeout: float = 60) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(n in self.screen for n in needles):
                return self.screen
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.screen += os.read(self.fd, 65536)
                except OSError:
                    break
        missing = [n for n in needles if n not in self.screen]
        raise TimeoutError(f"{missing} never appeared on the screen")

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                self.read_until(b"\x00never", timeout=0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        raise TimeoutError("the program did not exit")


@pytest.fixture
def demo_env(short_tmp: Path) -> dict[str, str]:
    return {
        "LIVETOKEN_PORT": str(free_port()),
        "LIVETOKEN_SOCKET": str(short_tmp / "feed.sock"),
        "LIVETOKEN_DB": str(short_tmp / "history.db"),
        "XDG_STATE_HOME": str(short_tmp / "state"),
        "ANTHROPIC_BASE_URL": "",
        "OPENAI_BASE_URL": "",
    }


def readme_demo_command() -> list[str]:
    """The README's first command, as a new user types it."""
    readme = (ROOT / "README.md").read_text()
    line = next(line for line in readme.splitlines() if line.startswith("uv run livetoken demo"))
    args = line.split("#", 1)[0].split()
    uv = shutil.which("uv")
    assert uv, "uv is on PATH wherever the README's commands run"
    return [uv, *args[1:]]


def test_readme_demo_fills_the_table_and_quitting_leaves_no_process(demo_env) -> None:
    terminal = Terminal(readme_demo_command(), demo_env)
    screen = terminal.read_until(b"claude-", b"gpt-", b"done", timeout=60)
    assert b"connected" in screen
    assert processes_mentioning(demo_env["LIVETOKEN_SOCKET"])  # the proxy runs ...
    terminal.type(b"q")
    assert terminal.wait() == 0
    assert b"LiveToken stopped" in terminal.screen
    # ... and is gone with the table: no mitmdump, no socket.
    wait_until(lambda: not processes_mentioning(demo_env["LIVETOKEN_SOCKET"]), 10, "the proxy to exit")
    assert not Path(demo_env["LIVETOKEN_SOCKET"]).exists()
    log = Path(demo_env["XDG_STATE_HOME"]) / "livetoken" / "demo-proxy.log"
    assert "livetoken ok" in log.read_text()


def test_a_killed_launcher_takes_the_proxy_with_it(demo_env) -> None:
    terminal = Terminal([str(BIN / "livetoken"), "demo"], demo_env)
    terminal.read_until(b"connected", timeout=60)
    proxies = processes_mentioning(demo_env["LIVETOKEN_SOCKET"])
    assert proxies
    os.kill(terminal.pid, signal.SIGKILL)  # the terminal window closed under it
    os.waitpid(terminal.pid, 0)
    wait_until(lambda: not processes_mentioning(demo_env["LIVETOKEN_SOCKET"]), 15, "the proxy to follow")


def test_demo_traffic_yields_every_state_api_and_provider(short_tmp: Path) -> None:
    demo = Demo()
    settings = ProxySettings(
        port=free_port(),
        anthropic_upstream=demo.upstream_url,
        openai_upstream=demo.upstream_url + "/v1",
        socket=str(short_tmp / "feed.sock"),
        log_path=short_tmp / "proxy.log",
        env={"LIVETOKEN_DB": ""},
    )
    proxy = Proxy(settings).wait_ready()
    traffic = None
    try:
        reader = FeedReader(Path(settings.socket_path))
        traffic = Traffic(settings.port, workers=8, seed=3).start()
        wanted = {("state", s) for s in FINAL_STATES} | {
            ("api", a) for a in ("messages", "chat_completions", "responses")
        }
        wanted |= {("provider", "anthropic"), ("provider", "openai"), ("estimated", True), ("cached", True)}

        def seen() -> set:
            got = set()
            for m in list(reader.messages):
                if m.get("state") in FINAL_STATES:
                    got |= {("state", m["state"]), ("api", m["api"]), ("provider", m["provider"])}
                    if m["tokens_estimated"]:
                        got.add(("estimated", True))
                    if m.get("cache_read_tokens"):
                        got.add(("cached", True))
            return got

        wait_until(lambda: wanted <= seen(), 90, f"demo records covering {wanted}")
        models = {m["model"] for m in reader.messages if m.get("model")}
        assert any(m.startswith("claude-") for m in models) and any(m.startswith("gpt-") for m in models)
    finally:
        if traffic is not None:
            traffic.stop()
        proxy.stop()
        demo.stop()


# -- one-line refusals -------------------------------------------------------------------------


def run_livetoken(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "livetoken"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_busy_port_is_a_one_line_message(short_tmp: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_livetoken(
            "proxy", env={"LIVETOKEN_PORT": str(port), "LIVETOKEN_SOCKET": str(short_tmp / "s")}
        )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert (
        f"port {port} on 127.0.0.1 is in use" in result.stderr
        and f"LIVETOKEN_PORT={port + 1}" in result.stderr
    )


def test_self_looping_upstream_is_a_one_line_message(short_tmp: Path) -> None:
    port = free_port()
    result = run_livetoken(
        "proxy",
        env={
            "LIVETOKEN_PORT": str(port),
            "ANTHROPIC_BASE_URL": f"http://localhost:{port}",
            "LIVETOKEN_SOCKET": str(short_tmp / "s"),
        },
    )
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "ANTHROPIC_BASE_URL" in result.stderr and "would loop" in result.stderr


def test_api_key_beyond_loopback_is_refused_unless_allowed() -> None:
    settings = ProxySettings(port=free_port(), host="0.0.0.0", api_key="sk-ant-secret")
    with pytest.raises(LaunchError, match="--allow-remote-key") as caught:
        check(settings)
    assert "secret" not in str(caught.value)
    settings.allow_remote_key = True
    check(settings)


def test_missing_mitmdump_says_how_to_install(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LaunchError, match=r"mitmdump not found.*uv sync"):
        find_mitmdump()


def test_a_proxy_that_dies_at_start_is_reported_even_beside_another_feed(short_tmp: Path) -> None:
    """Another LiveToken already publishes on the socket: our proxy stops, and the launcher says why
    instead of mistaking the other feed for ours."""
    from metrics.feed import bind_socket

    socket_path = short_tmp / "feed.sock"
    other = bind_socket(str(socket_path))  # a live listener, as another proxy's feed
    settings = ProxySettings(
        port=free_port(), socket=str(socket_path), log_path=short_tmp / "proxy.log", env={"LIVETOKEN_DB": ""}
    )
    try:
        with pytest.raises(LaunchError, match="already publishing") as caught:
            Proxy(settings).wait_ready(timeout=30)
        assert str(settings.log_path) in str(caught.value)
    finally:
        other.close()
