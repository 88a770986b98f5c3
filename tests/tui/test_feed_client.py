"""The feed worker on its own: batching, hello handling, waiting, and sockets that are not feeds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from textual.message import Message

from metrics.record import STREAMING
from tests.tui.helpers import hello, message
from tui.feed_client import Backoff, FeedClient
from tui.messages import FeedStatus, Link, RecordsReceived


class Inbox(list[Message]):
    def statuses(self) -> list[FeedStatus]:
        return [m for m in self if isinstance(m, FeedStatus)]

    def batches(self) -> list[RecordsReceived]:
        return [m for m in self if isinstance(m, RecordsReceived)]

    async def wait_for(self, predicate: Callable[[Inbox], bool], timeout: float = 5) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self):
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(client: FeedClient) -> AsyncIterator[None]:
    task = asyncio.create_task(client.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def unix_server(path: Path, reply: bytes | None) -> AsyncIterator[None]:
    """A socket that is not a feed: it sends ``reply`` and hangs up, or (None) says nothing."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if reply is None:
            await reader.read()  # silent until the client gives up
        else:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(handle, path=str(path))
    try:
        yield
    finally:
        server.close()


def quick_client(path: Path | str, inbox: Inbox, **kwargs: float) -> FeedClient:
    return FeedClient(str(path), inbox.append, backoff=Backoff(first=0.05, limit=0.1), **kwargs)


def test_backoff_doubles_up_to_its_limit_and_resets() -> None:
    backoff = Backoff(first=0.5, limit=5)
    assert [backoff.next() for _ in range(6)] == [0.5, 1, 2, 4, 5, 5]
    backoff.reset()
    assert backoff.next() == 0.5


async def test_many_updates_become_one_batch_per_interval() -> None:
    inbox = Inbox()
    client = quick_client("/nonexistent", inbox, flush_interval=0.05)
    for i in range(50):
        client.receive(message("r1", state=STREAMING, chunks=i))
    client.receive(message("r2"))
    assert inbox.batches() == []  # nothing is drawn per message
    await inbox.wait_for(lambda box: bool(box.batches()))
    await asyncio.sleep(0.1)
    [received] = inbox.batches()
    assert list(received.batch.records) == ["r1", "r2"]
    assert received.batch.records["r1"].chunks == 49


async def test_records_without_id_and_unknown_message_types_are_skipped() -> None:
    inbox = Inbox()
    client = quick_client("/nonexistent", inbox)
    client.receive({"type": "request", "state": "done"})
    client.receive({"type": "metrics_v2", "id": "x"})
    client.receive(["not", "a", "map"])
    client.flush()
    assert client.skipped == 1 and inbox.batches() == []


async def test_a_newer_schema_is_accepted_with_a_warning() -> None:
    inbox = Inbox()
    client = quick_client("/nonexistent", inbox)
    client.receive(hello(schema=2, features=["x"]))
    [status] = inbox.statuses()
    assert status.status.link is Link.CONNECTED and status.status.schema == 2
    assert "schema 2" in status.status.warning and "unknown fields are ignored" in status.status.warning


async def test_a_missing_socket_means_waiting_with_the_path_and_retries(short_tmp: Path) -> None:
    inbox = Inbox()
    path = short_tmp / "nothing.sock"
    async with running(quick_client(path, inbox)):
        await inbox.wait_for(lambda box: sum(s.status.link is Link.WAITING for s in box.statuses()) >= 2)
    waiting = [s.status for s in inbox.statuses() if s.status.link is Link.WAITING]
    assert waiting[0].path == str(path) and "is the proxy running" in waiting[0].detail
    assert waiting[0].retry_in == 0.05 and waiting[1].retry_in == 0.1  # backing off
    assert waiting[1].attempt == 2


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "is not a LiveToken feed"),
        (None, "no hello within"),
        (b"", "closed before saying hello"),
    ],
)
async def test_a_socket_that_is_not_a_feed_is_named_and_the_client_keeps_trying(
    short_tmp: Path, reply: bytes | None, says: str
) -> None:
    inbox = Inbox()
    path = short_tmp / "other.sock"
    async with unix_server(path, reply), running(quick_client(path, inbox, hello_timeout=0.2)):
        await inbox.wait_for(lambda box: sum(s.status.link is Link.NOT_A_FEED for s in box.statuses()) >= 2)
    refused = [s.status for s in inbox.statuses() if s.status.link is Link.NOT_A_FEED]
    assert says in refused[0].detail
    assert refused[0].retry_in is not None and refused[-1].attempt >= 2
