"""The feed worker: connect, read, batch, reconnect. The TUI's only link to the proxy.

It runs as a Textual worker on the app's event loop and talks to the app with messages only:
``FeedStatus`` when the connection changes and ``RecordsReceived`` at most every
``flush_interval`` seconds, however fast the proxy publishes: that is what keeps redraws to a few
per second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message

from metrics.feed import FeedError, NotAFeedError, subscribe
from metrics.record import SCHEMA
from tui.messages import ConnectionStatus, FeedStatus, Link, RecordsReceived
from tui.records import to_record
from tui.store import Batch

FLUSH_INTERVAL_S = 0.25
HELLO_TIMEOUT_S = 5.0


@dataclass(slots=True)
class Backoff:
    """Retry delays that double from ``first`` up to ``limit``; reset after a good connection."""

    first: float = 0.5
    limit: float = 5.0
    _next: float = 0.0

    def next(self) -> float:
        delay = self._next or self.first
        self._next = min(delay * 2, self.limit)
        return delay

    def reset(self) -> None:
        self._next = 0.0


def describe_failure(exc: BaseException) -> str:
    """Why connecting failed, as something the user can act on."""
    cause = exc.__cause__ if isinstance(exc, FeedError) and exc.__cause__ else exc
    if isinstance(cause, FileNotFoundError):
        return "no socket there yet: is the proxy running?"
    if isinstance(cause, ConnectionRefusedError):
        return "nothing is listening there (a stale socket, or not a socket)"
    if isinstance(cause, PermissionError):
        return "permission denied (is the socket another user's?)"
    if isinstance(cause, OSError):
        return cause.strerror or str(cause) or type(cause).__name__
    return str(cause)


def schema_warning(hello: dict[str, Any]) -> str:
    schema = hello.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        return "the feed did not say its schema; showing what can be read"
    if schema > SCHEMA:
        return (
            f"the feed speaks schema {schema}, this TUI knows {SCHEMA}: "
            "unknown fields are ignored (upgrade livetoken)"
        )
    return ""


class FeedClient:
    def __init__(
        self,
        path: str,
        post: Callable[[Message], object],
        *,
        flush_interval: float = FLUSH_INTERVAL_S,
        hello_timeout: float = HELLO_TIMEOUT_S,
        backoff: Backoff | None = None,
    ) -> None:
        self.path = path
        self.post = post
        self.flush_interval = flush_interval
        self.hello_timeout = hello_timeout
        self.backoff = backoff or Backoff()
        self.skipped = 0  # request messages without a usable id
        self._batch = Batch()
        self._flush_handle: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Stay connected for as long as the app runs."""
        attempt = 0
        while True:
            attempt += 1
            self._status(Link.CONNECTING, attempt=attempt)
            link, detail = await self._connect_once()
            if link is Link.CONNECTED:
                attempt = 0  # the next failure counts from one again
                self.backoff.reset()
                link, detail = Link.WAITING, detail or "the proxy went away; reconnecting"
            delay = self.backoff.next()
            self._status(link, detail=detail, retry_in=delay, attempt=attempt)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> tuple[Link, str]:
        """One connection, until it ends; returns how it ended."""
        connected = False
        stream = subscribe(self.path)
        try:
            hello = await asyncio.wait_for(anext(stream), self.hello_timeout)
            connected = True
            self.receive(hello)
            await self._read(stream)
            return Link.CONNECTED, ""
        except StopAsyncIteration:
            return Link.NOT_A_FEED, "the socket closed before saying hello: not a LiveToken feed?"
        except TimeoutError:
            return Link.NOT_A_FEED, f"no hello within {self.hello_timeout:g}s: not a LiveToken feed?"
        except NotAFeedError as exc:
            return (Link.CONNECTED if connected else Link.NOT_A_FEED), str(exc)
        except (FeedError, OSError) as exc:
            return (Link.CONNECTED if connected else Link.WAITING), describe_failure(exc)
        finally:
            self.flush()
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _read(self, stream: AsyncIterator[dict[str, Any]]) -> None:
        async for message in stream:
            self.receive(message)

    def receive(self, message: Any) -> None:
        """Take one feed message (public so tests can drive the app without a socket)."""
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "hello":
            self._hello(message)
        elif kind == "request":
            record = to_record(message)
            if record is None:
                self.skipped += 1
                return
            self._batch.add(record)
            self._schedule_flush()
        # Other types may come with a newer schema: ignored, like unknown fields.

    def _hello(self, hello: dict[str, Any]) -> None:
        self.flush()  # what came before belongs to the old connection
        self._batch.since_hello = set()
        self._schedule_flush()  # even an empty snapshot says which rows were lost
        schema = hello.get("schema")
        pid = hello.get("pid")
        self._status(
            Link.CONNECTED,
            schema=schema if isinstance(schema, int) else None,
            pid=pid if isinstance(pid, int) else None,
            warning=schema_warning(hello),
        )

    def _schedule_flush(self) -> None:
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self.flush_interval, self.flush)

    def flush(self) -> None:
        """Hand the pending batch to the app now."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._batch:
            batch, self._batch = self._batch, Batch()
            self.post(RecordsReceived(batch))

    def _status(self, link: Link, **fields: Any) -> None:
        self.post(FeedStatus(ConnectionStatus(link, self.path, **fields)))
