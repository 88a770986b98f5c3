"""Textual messages: how the feed worker talks to the app, and the app to its screens."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from textual.message import Message

from tui.store import Batch, Changes


class Link(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"  # no proxy there (yet); retrying
    NOT_A_FEED = "not a feed"  # something answered, but not a LiveToken feed; retrying


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    link: Link
    path: str
    detail: str = ""  # why we are waiting, in words a user can act on
    retry_in: float | None = None
    attempt: int = 0
    schema: int | None = None
    pid: int | None = None
    warning: str = ""  # e.g. a newer schema than this TUI knows


@dataclass
class FeedStatus(Message):
    """The connection to the feed changed."""

    status: ConnectionStatus


@dataclass
class RecordsReceived(Message):
    """A batch of record updates from the feed (a few per second at most)."""

    batch: Batch


@dataclass
class StoreChanged(Message):
    """Sent to an open detail or per-model screen after the app applied a batch or a clear."""

    changes: Changes
