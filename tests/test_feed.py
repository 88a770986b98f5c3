"""The feed: hello, backlog, live updates, history bound, slow subscribers, socket safety."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import tempfile
import threading
from pathlib import Path

import msgpack
import pytest

from metrics.feed import (
    FeedError,
    FeedPublisher,
    NotAFeedError,
    bind_socket,
    default_socket_path,
    iter_feed,
    resolve_socket_path,
    subscribe,
)
from metrics.record import DONE, RECORD_FIELDS, STREAMING, Record


def rec(i: int, state: str = DONE, **fields) -> Record:
    return Record(id=f"r{i}", state=state, provider="anthropic", api="messages", **fields)


async def read_messages(path: Path, count: int) -> list[dict]:
    out = []
    async for message in subscribe(str(path)):
        out.append(message)
        if len(out) == count:
            break
    return out


async def test_hello_then_backlog_with_in_flight_then_live_updates(short_tmp: Path) -> None:
    path = short_tmp / "feed.sock"
    feed = FeedPublisher(str(path), history=10, hello=lambda: {"estimator": "x"})
    await feed.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        feed.publish(rec(1))
        feed.publish(rec(2, STREAMING))
        reader = asyncio.create_task(read_messages(path, 5))
        await asyncio.sleep(0.1)
        feed.publish(rec(2, STREAMING, chunks=3))
        feed.publish(rec(2, DONE, chunks=9))
        messages = await asyncio.wait_for(reader, 5)
    finally:
        await feed.close()
    hello, *updates = messages
    assert hello["type"] == "hello" and hello["schema"] == 1 and hello["estimator"] == "x"
    assert [(m["id"], m["state"], m["chunks"]) for m in updates] == [
        ("r1", DONE, 0),
        ("r2", STREAMING, 0),
        ("r2", STREAMING, 3),
        ("r2", DONE, 9),
    ]
    # Exactly the record fields plus the message type: nothing else (no headers, no text).
    assert set(updates[0]) == {*RECORD_FIELDS, "type"}
    assert not path.exists()


async def test_backlog_keeps_max_history_records_evicting_oldest_final_first(short_tmp: Path) -> None:
    path = short_tmp / "feed.sock"
    feed = FeedPublisher(str(path), history=3)
    await feed.start()
    try:
        feed.publish(rec(0, STREAMING))
        for i in range(1, 6):
            feed.publish(rec(i))
        messages = await asyncio.wait_for(read_messages(path, 4), 5)
    finally:
        await feed.close()
    assert [m["id"] for m in messages[1:]] == ["r0", "r4", "r5"]


async def test_subscriber_that_never_reads_is_dropped_and_others_get_everything(short_tmp: Path) -> None:
    path = short_tmp / "feed.sock"
    feed = FeedPublisher(str(path), history=100)
    await feed.start()
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(path))  # and never reads
    total = 6000
    reader = asyncio.create_task(read_messages(path, total + 1))
    try:
        await asyncio.sleep(0.1)
        assert feed.subscribers == 2
        padding = "x" * 300
        for i in range(total):
            feed.publish(rec(i % 50, STREAMING, chunks=i, error_message=padding))
            if i % 100 == 0:
                await asyncio.sleep(0)  # let the reading subscriber's transport drain
        messages = await asyncio.wait_for(reader, 20)
        assert feed.subscribers == 1  # the stuck one was cut off, not waited for
    finally:
        stuck.close()
        await feed.close()
    assert [m["chunks"] for m in messages[1:]] == list(range(total))


def test_stale_socket_is_replaced_but_a_live_one_is_refused(short_tmp: Path) -> None:
    path = str(short_tmp / "feed.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: a proxy that died
    live = bind_socket(path)
    try:
        with pytest.raises(FeedError, match="already publishing"):
            bind_socket(path)
    finally:
        live.close()


def test_unusable_paths_say_what_to_change(short_tmp: Path) -> None:
    regular = short_tmp / "file"
    regular.write_text("not a socket")
    with pytest.raises(FeedError, match=r"not a socket.*LIVETOKEN_SOCKET"):
        bind_socket(str(regular))
    with pytest.raises(FeedError, match="too long"):
        bind_socket("/tmp/" + "x" * 200 + "/feed.sock")
    with pytest.raises(FeedError, match="cannot create"):
        bind_socket(str(regular / "sub" / "feed.sock"))


def test_socket_path_resolution(monkeypatch) -> None:
    monkeypatch.setenv("LIVETOKEN_SOCKET", "/tmp/from-env.sock")
    assert resolve_socket_path("/tmp/explicit.sock") == "/tmp/explicit.sock"
    assert resolve_socket_path(None) == "/tmp/from-env.sock"
    monkeypatch.delenv("LIVETOKEN_SOCKET")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert resolve_socket_path(None) == default_socket_path() == f"/tmp/livetoken-{os.getuid()}/feed.sock"


def test_a_socket_that_is_not_a_feed_is_reported(short_tmp: Path) -> None:
    path = str(short_tmp / "other.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        conn.sendall(msgpack.packb({"hello": "world"}))
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    with pytest.raises(NotAFeedError, match="not a LiveToken feed"):
        list(iter_feed(path, timeout=5))
    server.close()


def test_missing_feed_is_a_clear_error(short_tmp: Path) -> None:
    with pytest.raises(FeedError, match="no proxy is listening"):
        list(iter_feed(str(short_tmp / "nothing.sock"), timeout=1))


def test_a_folder_the_user_names_is_theirs(tmp_path: Path) -> None:
    # A checkout called "livetoken-…" with mode 755 is fine for a socket the user asked for.
    folder = Path(tempfile.mkdtemp(prefix="livetoken-", dir="/tmp"))
    try:
        os.chmod(folder, 0o755)
        bind_socket(str(folder / "feed.sock")).close()
    finally:
        shutil.rmtree(folder)


def test_the_default_folder_must_be_private(monkeypatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    folder = Path(tempfile.mkdtemp(prefix="lt-tmp-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    try:
        shared = folder / f"livetoken-{os.getuid()}"
        shared.mkdir(mode=0o777)
        os.chmod(shared, 0o777)
        with pytest.raises(FeedError, match="not private"):
            bind_socket(default_socket_path())
    finally:
        shutil.rmtree(folder)


async def test_a_backlog_larger_than_the_buffer_limit_is_still_delivered(short_tmp: Path) -> None:
    path = short_tmp / "feed.sock"
    feed = FeedPublisher(str(path), history=3000)
    await feed.start()
    try:
        for i in range(3000):  # ~3 MB of snapshot, past MAX_SUBSCRIBER_BUFFER
            feed.publish(rec(i, error_message="x" * 800))
        messages = await asyncio.wait_for(read_messages(path, 3001), 20)
    finally:
        await feed.close()
    assert messages[0]["backlog"] == 3000
    assert [m["id"] for m in messages[1:]] == [f"r{i}" for i in range(3000)]
