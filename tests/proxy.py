"""Real processes for end-to-end tests: the fake upstream, mitmdump with the addon, a feed reader."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from metrics.feed import FeedError, iter_feed
from metrics.record import FINAL_STATES
from tests.conftest import FIXTURES, ROOT

BIN = Path(sys.executable).parent
CLEAN_ENV = (
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
    "API_KEY",
    "ENABLE_CONSOLE",
    "MAX_HISTORY",
    "LIVETOKEN_SOCKET",
    "LIVETOKEN_PROMETHEUS",
    "LIVETOKEN_OTLP_ENDPOINT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env["LIVETOKEN_DB"] = ""  # no history unless a test asks for it: never the user's database
    env.update(extra)
    return env


class FakeUpstreamProcess:
    def __init__(self) -> None:
        args = [sys.executable, "-m", "livetoken.fake_upstream", "--port", "0"]
        if FIXTURES.is_dir():
            args += ["--fixtures", str(FIXTURES)]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=clean_env())
        line = self.proc.stdout.readline()
        self.port = int(line.rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def log(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/_fake/log", timeout=5) as response:
            return json.load(response)

    def exchange(self, request_id: str) -> dict[str, Any]:
        return self.log()[int(request_id.rsplit("_", 1)[1])]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Mitmdump:
    """``mitmdump -s livetoken_addon.py --mode reverse:UPSTREAM@PORT``, as the README runs it."""

    def __init__(
        self,
        upstream: str,
        socket_path: Path,
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        sets: dict[str, str] | None = None,
        port: int | None = None,
        mode: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.socket_path = socket_path
        self.log_path = log_path
        args = [
            str(BIN / "mitmdump"),
            "-s",
            "livetoken_addon.py",
            "--mode",
            mode or f"reverse:{upstream}@{self.port}",
            "--set",
            f"livetoken_socket={socket_path}",
            *extra_args,
        ]
        for key, value in (sets or {}).items():
            args += ["--set", f"{key}={value}"]
        self.log_file = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdout=self.log_file, stderr=subprocess.STDOUT, env=clean_env(**(env or {}))
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> Mitmdump:
        wait_until(
            lambda: self.proc.poll() is not None or (port_open(self.port) and self.socket_path.exists()),
            30,
            "mitmdump to listen",
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"mitmdump exited: {self.log()}")
        # The feed starts after the listener moved to loopback; be sure it is back.
        wait_until(lambda: port_open(self.port), 10, "mitmdump to listen again")
        return self

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()
        if getattr(self, "folder", None) is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def proxy_for(
    upstream: FakeUpstreamProcess, prefix: str = "lt-", *, env: dict[str, str] | None = None, **kwargs: Any
) -> Mitmdump:
    """mitmdump with the addon in front of the fake upstream for both APIs, in a fresh private folder
    (short: Unix socket paths must stay under 108 bytes). Call ``wait_ready()`` on it."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    proxy = Mitmdump(
        upstream.url,
        folder / "feed.sock",
        folder / "mitmdump.log",
        env={"OPENAI_BASE_URL": f"{upstream.url}/v1", **(env or {})},
        **kwargs,
    )
    proxy.folder = folder  # removed by stop()
    return proxy


class FeedReader:
    """Subscribes to the feed in a thread and keeps every message, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.wait_for(lambda m: m["type"] == "hello", what="the feed's hello")

    def _run(self) -> None:
        try:
            for message in iter_feed(str(self.path)):
                with self.cond:
                    self.messages.append(message)
                    self.cond.notify_all()
        except FeedError:
            pass

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 15, what: str = "a feed message"
    ) -> dict[str, Any]:
        with self.cond:
            ok = self.cond.wait_for(lambda: any(match(m) for m in self.messages), timeout)
            if not ok:
                raise TimeoutError(f"no {what} on the feed within {timeout}s")
            return next(m for m in self.messages if match(m))

    def final(self, request_id: str, timeout: float = 15) -> dict[str, Any]:
        return self.wait_for(
            lambda m: m.get("request_id") == request_id and m.get("state") in FINAL_STATES,
            timeout,
            f"final record for {request_id}",
        )

    def updates(self, record_id: str) -> list[dict[str, Any]]:
        with self.cond:
            return [m for m in self.messages if m.get("id") == record_id]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP listener on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, size in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with open(table) as f:
            next(f)
            for line in f:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    raw = bytes.fromhex(address)
                    if size == 8:
                        found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                    else:
                        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                        found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def post_raw(
    proxy: Mitmdump,
    path: str,
    fake: str,
    body: bytes = b'{"model":"m","stream":true}',
    headers: dict[str, str] | None = None,
) -> tuple[bytes, httpx.Headers]:
    """POST through the proxy and read the raw (still content-encoded) body. When the upstream
    breaks the connection, what arrived until then is returned."""
    pieces: list[bytes] = []
    response_headers = httpx.Headers()
    request_headers = {
        "x-fake": fake,
        "content-type": "application/json",
        "accept-encoding": "gzip, deflate, br, zstd",
        **(headers or {}),
    }
    with httpx.Client(timeout=30) as client:
        try:
            with client.stream(
                "POST", f"{proxy.url}{path}", content=body, headers=request_headers
            ) as response:
                response_headers = response.headers
                pieces.extend(response.iter_raw())  # kept piece by piece, even if the stream breaks
        except httpx.HTTPError:
            pass
    return b"".join(pieces), response_headers
