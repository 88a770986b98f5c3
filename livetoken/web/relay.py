"""One feed subscription per server, fanned out to every browser as JSON.

The relay is the TUI's model without the widgets: ``FeedClient`` (connect, batch, back off,
skip malformed records) feeds a ``RequestStore`` (upsert by id, rows lost with a restarted proxy),
and rows and the summary strip are rendered with the TUI's own cell and summary functions, so the
browser shows the same text and marks. The page only lays out what it is sent.

Messages to the page:
  ``{"type": "status", "link", "text", ...}``   the connection line
  ``{"type": "snapshot", "columns", "rows", "summary"}``   replace everything (connect, feed restart)
  ``{"type": "update", "rows", "removed", "summary"}``   upsert these rows by id
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from textual.message import Message

from metrics.record import FINAL_STATES
from tui import format as fmt
from tui.aggregate import totals
from tui.feed_client import FeedClient
from tui.messages import ConnectionStatus, FeedStatus, Link, RecordsReceived
from tui.store import Entry, RequestStore
from tui.widgets.connection_bar import status_text
from tui.widgets.request_table import COLUMNS, row_cells
from tui.widgets.summary import summary_pairs

log = logging.getLogger(__name__)

MAX_ROWS = 2000  # a browser table stays responsive well past this; the charts read these too
CLIENT_QUEUE = 256  # messages a browser may fall behind before it is dropped (it reconnects)

# The TUI's columns plus cost, which the browser has room for.
HEADERS: list[tuple[str, bool]] = [(c.label, c.right) for c in COLUMNS] + [("cost", True)]


def row(entry: Entry) -> dict[str, Any]:
    """One request as the page needs it: display cells, plus raw numbers for the charts."""
    record = entry.record
    cost = fmt.usd(record.cost_usd)
    if cost and record.tokens_estimated:
        cost = "~" + cost
    cells = [[cell.text, cell.style] for cell in row_cells(entry)] + [[cost, ""]]
    return {
        "id": record.id,
        "cells": cells,
        "model": record.model,
        "state": record.state,
        "final": record.state in FINAL_STATES,
        "started_at": record.started_at,
        "ttft_ms": record.ttft_ms,
        "tokens_per_s": record.output_tokens_per_s,
    }


def status_message(status: ConnectionStatus, note: str = "") -> dict[str, Any]:
    return {
        "type": "status",
        "link": str(status.link),
        "text": status_text(status, note).plain,
        "path": status.path,
        "retry_in": status.retry_in,
    }


class Client:
    """One browser: a bounded queue of JSON-ready messages; overflow drops it rather than the relay."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(CLIENT_QUEUE)

    def send(self, message: dict[str, Any]) -> bool:
        try:
            self.queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            return False


class FeedRelay:
    def __init__(self, socket_path: str, *, max_rows: int = MAX_ROWS) -> None:
        self.socket_path = socket_path
        self.store = RequestStore(max_rows)
        self.status = ConnectionStatus(Link.CONNECTING, socket_path)
        self.feed = FeedClient(socket_path, self._post)
        self.clients: set[Client] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.feed.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for client in list(self.clients):
            client.send(None)  # the socket handler closes the page's connection
        self.clients.clear()

    # -- browsers ---------------------------------------------------------------------------

    def connect(self) -> Client:
        """A new browser gets the connection line and the whole table, then updates."""
        client = Client()
        client.send(status_message(self.status))
        client.send(self.snapshot())
        self.clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "columns": HEADERS,
            # Oldest first: the page inserts each new row on top, as live updates do.
            "rows": [row(entry) for entry in self.store.entries()],
            "summary": self.summary(),
        }

    def summary(self) -> list[list[str]]:
        counts, figures = summary_pairs(totals(self.store.entries()))
        return [list(pair) for pair in (*counts, *figures)]

    def _broadcast(self, message: dict[str, Any]) -> None:
        for client in list(self.clients):
            if not client.send(message):
                # Too far behind: forget it; its socket closes and the page reconnects for a snapshot.
                self.clients.discard(client)
                with contextlib.suppress(asyncio.QueueEmpty):
                    client.queue.get_nowait()
                client.send(None)

    # -- the feed ---------------------------------------------------------------------------

    def _post(self, message: Message) -> None:
        # FeedClient was written for a Textual app; here its messages land in plain methods.
        if isinstance(message, FeedStatus):
            self.status = message.status
            self._broadcast(status_message(self.status))
        elif isinstance(message, RecordsReceived):
            batch = message.batch
            changes = self.store.apply(batch)
            if batch.since_hello is not None:
                # A (re)connected feed: everyone gets the whole table again, so a page that missed
                # anything, or held rows from the old proxy, ends up exactly in step.
                self._broadcast(self.snapshot())
                return
            if not changes:
                return
            rows = []
            for key in (*changes.added, *changes.updated):
                entry = self.store.get(key)
                if entry is not None:
                    rows.append(row(entry))
            self._broadcast(
                {"type": "update", "rows": rows, "removed": changes.removed, "summary": self.summary()}
            )
