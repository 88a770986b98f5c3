"""The feed: msgpack maps over a Unix stream socket (DESIGN.md, schema 1).

``FeedPublisher`` runs inside the proxy's event loop and never waits for a subscriber: each
message is packed once and written to every subscriber's transport; one whose unsent backlog
passes ``MAX_SUBSCRIBER_BUFFER`` is disconnected (it reconnects and gets a fresh snapshot).
The client helpers below are what ``livetoken tail``, the TUI and user scripts use.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import logging
import os
import socket
import stat
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import msgpack

from metrics.record import SCHEMA, Record

log = logging.getLogger(__name__)

MAX_SUBSCRIBER_BUFFER = 1024 * 1024
_MAX_UNIX_PATH = 107  # sun_path is 108 bytes on Linux, with the terminating NUL


class FeedError(Exception):
    """A feed socket that cannot be used; the message says what to change."""


class NotAFeedError(FeedError):
    """The socket answered, but not with a LiveToken hello."""


def default_socket_path() -> str:
    """The per-user default: $XDG_RUNTIME_DIR/livetoken/feed.sock, else /tmp/livetoken-UID/."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK):
        return os.path.join(runtime, "livetoken", "feed.sock")
    return os.path.join(tempfile.gettempdir(), f"livetoken-{os.getuid()}", "feed.sock")


def resolve_socket_path(explicit: str | None = None) -> str:
    """One rule for the addon, the TUI and scripts: explicit, else LIVETOKEN_SOCKET, else default."""
    return explicit or os.environ.get("LIVETOKEN_SOCKET") or default_socket_path()


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


# -- publisher -----------------------------------------------------------------------------


def bind_socket(path: str) -> socket.socket:
    """Bind a listening Unix socket at ``path`` with mode 0600, or raise FeedError saying why not."""
    hint = "set LIVETOKEN_SOCKET (or --set livetoken_socket=PATH) to a path you can write"
    if len(os.fsencode(path)) > _MAX_UNIX_PATH:
        raise FeedError(f"feed socket path is too long for a Unix socket ({path}); {hint}")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)
    except OSError as exc:
        raise FeedError(f"cannot create the folder {directory}: {exc.strerror}; {hint}") from exc
    _check_private_dir(directory, path, hint)
    _remove_stale(path, hint)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise FeedError(f"cannot listen on feed socket {path}: {exc.strerror or exc}; {hint}") from exc
    sock.setblocking(False)
    return sock


def _check_private_dir(directory: str, path: str, hint: str) -> None:
    # The default folder (in /tmp when there is no XDG_RUNTIME_DIR) must be ours alone, or another
    # user could read the feed or plant a socket; a folder the user named is their business.
    if directory == os.path.dirname(default_socket_path()):
        info = os.lstat(directory)
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise FeedError(f"{directory} is not private to this user (owner or mode); remove it or {hint}")


def _remove_stale(path: str, hint: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise FeedError(f"{path} exists and is not a socket; remove it or {hint}")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(0.5)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)  # left behind by a proxy that died
        return
    except OSError as exc:
        raise FeedError(f"cannot use feed socket {path}: {exc.strerror or exc}; {hint}") from exc
    finally:
        probe.close()
    raise FeedError(f"another LiveToken proxy is already publishing on {path}; stop it or {hint}")


class _Subscriber(asyncio.Protocol):
    def __init__(self, feed: FeedPublisher) -> None:
        self.feed = feed
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self.transport = transport
        transport.set_write_buffer_limits(high=MAX_SUBSCRIBER_BUFFER)
        self.feed._subscribe(self)

    def data_received(self, data: bytes) -> None:
        pass  # subscribers have nothing to say

    def pause_writing(self) -> None:
        # The subscriber fell MAX_SUBSCRIBER_BUFFER behind: drop it rather than wait for it.
        log.info("livetoken feed: dropping a subscriber that cannot keep up")
        self.feed._unsubscribe(self)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.feed._unsubscribe(self)


class FeedPublisher:
    def __init__(
        self, path: str, history: int = 100, hello: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        self.path = path
        self.history = history
        self._hello = hello or dict
        self._sock: socket.socket | None = None
        self._server: asyncio.AbstractServer | None = None
        self._subscribers: set[_Subscriber] = set()
        # id -> (packed message, final?) in order of arrival; what a new subscriber is sent.
        self._records: OrderedDict[str, tuple[bytes, bool]] = OrderedDict()
        self._inode: int | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def bind(self) -> None:
        """Claim the socket now, so a bad path stops start-up with a clear message."""
        if self._sock is None:
            self._sock = bind_socket(self.path)
            self._inode = os.stat(self.path).st_ino
            # A start-up that fails later (port in use …) must not leave a dead socket behind.
            atexit.register(self._unlink)

    def _unlink(self) -> None:
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:  # still ours, not a newer proxy's
                os.unlink(self.path)

    async def start(self) -> None:
        self.bind()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Subscriber(self), sock=self._sock)

    async def close(self) -> None:
        for subscriber in list(self._subscribers):
            if subscriber.transport is not None:
                subscriber.transport.close()
        self._subscribers.clear()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
        elif self._sock is not None:
            self._sock.close()
        self._server = self._sock = None
        self._unlink()

    def preload(self, records: list[dict[str, Any]]) -> None:
        """Final records from before this start (the history database) begin the backlog."""
        for data in records[-self.history :]:
            self._records[data["id"]] = (pack({**data, "type": "request"}), True)
        if len(self._records) > self.history:
            self._evict()

    def publish(self, record: Record) -> None:
        data = pack(record.to_message())
        records = self._records
        is_new = record.id not in records
        records[record.id] = (data, record.final)
        if is_new and len(records) > self.history:
            self._evict()
        for subscriber in tuple(self._subscribers):
            transport = subscriber.transport
            if transport is not None and not transport.is_closing():
                transport.write(data)

    def _evict(self) -> None:
        # Oldest final records go first; in-flight ones only when nothing else is left.
        excess = len(self._records) - self.history
        for key in [k for k, (_, final) in self._records.items() if final][:excess]:
            del self._records[key]
            excess -= 1
        while excess > 0:
            self._records.popitem(last=False)
            excess -= 1

    def _subscribe(self, subscriber: _Subscriber) -> None:
        hello = {
            "type": "hello",
            "schema": SCHEMA,
            "server": "livetoken",
            "pid": os.getpid(),
            "max_history": self.history,
            "backlog": len(self._records),
            **self._hello(),
        }
        assert subscriber.transport is not None
        self._subscribers.add(subscriber)
        snapshot = pack(hello) + b"".join(d for d, _ in self._records.values())
        # The snapshot itself may pass the limit (a large MAX_HISTORY): only what comes after counts.
        subscriber.transport.set_write_buffer_limits(high=len(snapshot) + MAX_SUBSCRIBER_BUFFER)
        subscriber.transport.write(snapshot)

    def _unsubscribe(self, subscriber: _Subscriber) -> None:
        self._subscribers.discard(subscriber)


# -- subscribers ---------------------------------------------------------------------------


def _check_hello(message: Any, path: str) -> dict[str, Any]:
    if not isinstance(message, dict) or message.get("type") != "hello":
        raise NotAFeedError(f"{path} is not a LiveToken feed (it did not start with a hello)")
    return message


def iter_feed(path: str | None = None, timeout: float | None = None) -> Iterator[dict[str, Any]]:
    """Blocking iterator over feed messages, hello first; raises FeedError if unreachable."""
    path = resolve_socket_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        reason = (
            "no proxy is listening there" if exc.errno in (errno.ENOENT, errno.ECONNREFUSED) else exc.strerror
        )
        raise FeedError(f"cannot connect to the LiveToken feed at {path}: {reason}") from exc
    unpacker = msgpack.Unpacker(raw=False)
    first = True
    with sock:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            unpacker.feed(data)
            try:
                for message in unpacker:
                    if first:
                        message = _check_hello(message, path)
                        first = False
                    yield message
            except (ValueError, msgpack.UnpackException) as exc:
                raise NotAFeedError(f"{path} is not a LiveToken feed ({exc})") from exc


async def subscribe(path: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Async iterator over feed messages, hello first; raises FeedError if unreachable."""
    path = resolve_socket_path(path)
    try:
        reader, writer = await asyncio.open_unix_connection(path)
    except OSError as exc:
        raise FeedError(f"cannot connect to the LiveToken feed at {path}: {exc.strerror}") from exc
    unpacker = msgpack.Unpacker(raw=False)
    first = True
    try:
        while data := await reader.read(65536):
            unpacker.feed(data)
            try:
                for message in unpacker:
                    if first:
                        message = _check_hello(message, path)
                        first = False
                    yield message
            except (ValueError, msgpack.UnpackException) as exc:
                raise NotAFeedError(f"{path} is not a LiveToken feed ({exc})") from exc
    finally:
        writer.close()
