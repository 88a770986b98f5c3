"""The connection line at the top: always says whether the feed is there, and where it looks."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.messages import ConnectionStatus, Link

_LOOK = {
    Link.CONNECTING: ("◌", "connecting to", "yellow"),
    Link.CONNECTED: ("●", "connected to", "green"),
    Link.WAITING: ("○", "waiting for the proxy at", "yellow"),
    Link.NOT_A_FEED: ("⚠", "not a LiveToken feed:", "red"),
}


def status_text(status: ConnectionStatus, note: str = "") -> Text:
    """The line; ``note`` is what the launcher says about itself (proxy URL, log file)."""
    mark, words, style = _LOOK[status.link]
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{mark} ", style=f"bold {style}")
    text.append(f"{words} ", style=style)
    text.append(status.path, style="bold")
    if status.link is Link.CONNECTED:
        facts = [
            f"schema {status.schema}" if status.schema is not None else "",
            f"proxy pid {status.pid}" if status.pid is not None else "",
        ]
        text.append("".join(f"  {fact}" for fact in facts if fact), style="dim")
    else:
        if status.detail:
            text.append(f"  {status.detail}")
        if status.retry_in is not None:
            text.append(f"  (try {status.attempt}, next in {status.retry_in:g}s)", style="dim")
    if status.warning:
        text.append(f"  ⚠ {status.warning}", style="bold yellow")
    if note:
        text.append(f"  · {note}", style="dim")
    return text


class ConnectionBar(Static):
    status: reactive[ConnectionStatus | None] = reactive(None)
    note: reactive[str] = reactive("")

    def watch_status(self, status: ConnectionStatus | None) -> None:
        self.set_class(status is not None and status.link is Link.CONNECTED, "-connected")
        self.set_class(status is not None and bool(status.warning), "-warning")
        self._draw()

    def watch_note(self) -> None:
        self._draw()

    def _draw(self) -> None:
        self.update(status_text(self.status, self.note) if self.status else "", layout=False)
