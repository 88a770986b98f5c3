"""The line above the footer: follow and pause state, the active filter, rows shown."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import Static

from tui.filters import RowFilter


@dataclass(frozen=True, slots=True)
class ViewState:
    follow: bool = True
    paused: bool = False
    waiting_updates: int = 0  # requests with news held back while paused
    row_filter: RowFilter = field(default_factory=RowFilter)
    shown: int = 0
    total: int = 0


def view_text(view: ViewState) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if view.paused:
        text.append(" ⏸ PAUSED ", style="bold reverse yellow")
        text.append(f" {view.waiting_updates} requests with updates waiting ", style="yellow")
    else:
        text.append(" ▶ live ", style="bold reverse green")
    text.append("  follow " + ("on" if view.follow else "off"), style="bold" if view.follow else "dim")
    if view.row_filter.active:
        text.append("  filter ", style="dim")
        text.append(view.row_filter.describe(), style="bold magenta")
    text.append(f"  {view.shown} of {view.total} requests shown", style="dim")
    return text


class StatusBar(Static):
    def show(self, view: ViewState) -> None:
        self.update(view_text(view), layout=False)  # one fixed line: no re-layout
