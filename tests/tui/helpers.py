"""Building blocks for the TUI tests: records as the feed sends them, and an app fed by hand."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static

from metrics.record import SCHEMA, Record
from tui.app import LiveTokenApp
from tui.messages import ConnectionStatus, FeedStatus, Link
from tui.widgets.request_table import COLUMNS, RequestTable

# 2025-01-02 03:04:05 UTC: every test runs with TZ=UTC and this frozen clock.
T0 = 1735787045.0
SOCKET = "/run/user/1000/livetoken/feed.sock"


def message(key: str, **fields: Any) -> dict[str, Any]:
    """A ``request`` feed message, as the proxy publishes it."""
    base: dict[str, Any] = {
        "provider": "anthropic",
        "api": "messages",
        "method": "POST",
        "path": "/v1/messages",
        "model": "claude-sonnet-4-5",
        "stream": True,
        "started_at": T0,
    }
    return Record(id=key, **{**base, **fields}).to_message()


def hello(**fields: Any) -> dict[str, Any]:
    return {"type": "hello", "schema": SCHEMA, "server": "livetoken", "pid": 4242, **fields}


def make_app(**kwargs: Any) -> LiveTokenApp:
    """An app that does not touch any socket; tests hand it feed messages."""
    return LiveTokenApp(SOCKET, connect=False, clock=lambda: T0, **kwargs)


async def feed(pilot: Pilot, *messages: dict[str, Any]) -> None:
    """Pass messages through the app's own feed client (parsing, batching), then let it redraw."""
    app = pilot.app
    assert isinstance(app, LiveTokenApp)
    for item in messages:
        app.feed.receive(item)
    app.feed.flush()
    await pilot.pause()


def connected(app: LiveTokenApp) -> None:
    app.post_message(FeedStatus(ConnectionStatus(Link.CONNECTED, app.socket_path, schema=SCHEMA, pid=4242)))


def table(app: LiveTokenApp) -> RequestTable:
    return app.query_one(RequestTable)


def row(app: LiveTokenApp, key: str) -> dict[str, str]:
    """A row's cells as plain text, by column key."""
    cells = table(app).cells(key)
    return {column.key: cell.text for column, cell in zip(COLUMNS, cells, strict=True)}


def cell_style(app: LiveTokenApp, key: str, column: str) -> str:
    index = [c.key for c in COLUMNS].index(column)
    return table(app).cells(key)[index].style


def text_of(app: LiveTokenApp, selector: str) -> str:
    """What a Static on the current screen shows, as plain text."""
    content = app.screen.query_one(selector, Static).content
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(content)
    return capture.get()


async def wait_until(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``predicate`` holds (for tests with a real socket in the loop)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await pilot.pause(0.02)
