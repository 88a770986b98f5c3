"""The detail view of one request: every record field, kept live while the request streams."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from metrics.record import RECORD_FIELDS, Record
from tui import format as fmt
from tui.filters import state_of
from tui.messages import StoreChanged
from tui.store import Entry, RequestStore

# Record fields grouped the way someone debugging a request reads them. A field added to the
# contract later and not placed here still shows, under "More" (a test checks every field shows).
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Request", ("id", "provider", "api", "method", "path", "stream", "model", "started_at", "request_id")),
    ("Outcome", ("state", "status", "stop_reason", "error_type", "error_message")),
    ("Timing", ("ttfb_ms", "ttft_ms", "duration_ms", "output_tokens_per_s", "tpot_ms", "chunks")),
    ("Inter-token latency", ("itl_p50_ms", "itl_p95_ms", "itl_max_ms")),
    (
        "Usage",
        (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "tokens_estimated",
        ),
    ),
)
RATE_LIMITS = "rate_limits"


def _value(name: str, value: Any) -> str:
    """Exact figures here: the table's rounding is for scanning, this view is for reading."""
    if value is None:
        return ""
    if name == "started_at":
        return fmt.stamp(value)
    if name.endswith("_ms"):
        return f"{value:,.1f} ms"
    if name == "output_tokens_per_s":
        return f"{value:,.1f} tok/s"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def _section(title: str, rows: list[tuple[str, Text | str]]) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        show_header=False,
        box=None,
        padding=(0, 2, 0, 0),
        expand=False,
    )
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    return table


def detail_renderable(entry: Entry) -> Table:
    """Two columns: what and how it ended on the left, the figures on the right."""
    record: Record = entry.record
    sections: dict[str, Table] = {}
    for title, names in SECTIONS:
        rows: list[tuple[str, Text | str]] = [(n, _value(n, getattr(record, n))) for n in names]
        if title == "Outcome":
            rows[0] = ("state", Text(state_of(entry), style="bold red" if record.error_type else "bold"))
        if title == "Usage" and record.tokens_estimated:
            rows[-1] = (
                "tokens_estimated",
                Text("yes: counted by the proxy, not reported upstream", style="yellow"),
            )
        sections[title] = _section(title, rows)
    limits = sorted(record.rate_limits.items())
    sections["Rate limits"] = _section("Rate limits", limits or [("", Text("none sent", style="dim"))])
    placed = {name for _, names in SECTIONS for name in names} | {RATE_LIMITS}
    more = [(n, _value(n, getattr(record, n))) for n in RECORD_FIELDS if n not in placed]
    sections["More"] = _section("More", list(more))

    def column(*titles: str) -> Group:
        parts: list[Table | Text] = []
        for title in titles:
            parts += [sections[title], Text()]
        return Group(*parts[:-1])

    grid = Table.grid(expand=True, padding=(0, 4, 0, 0))
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    right = ("Timing", "Inter-token latency", "Usage", *(("More",) if more else ()))
    grid.add_row(column("Request", "Outcome", "Rate limits"), column(*right))
    return grid


class DetailScreen(Screen[None]):
    BINDINGS = [Binding("escape,backspace", "app.pop_screen", "Back")]

    def __init__(self, store: RequestStore, key: str) -> None:
        super().__init__()
        self.store = store
        self.key = key

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.key
        self.show()

    def show(self) -> None:
        entry = self.store.get(self.key)
        title = self.query_one("#detail-title", Static)
        body = self.query_one("#detail", Static)
        if entry is None:
            title.update(Text(f"request {self.key}", style="bold"))
            body.update(Text("This request was cleared.", style="dim"))
            return
        title.update(_title(entry))
        body.update(detail_renderable(entry))

    def on_store_changed(self, message: StoreChanged) -> None:
        if self.key in message.changes.touched:
            self.show()


def _title(entry: Entry) -> Text:
    record = entry.record
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{record.model or '(unknown model)'}", style="bold")
    text.append(f"  {record.provider} {record.api}  {record.method or ''} {record.path or ''}  ")
    text.append(state_of(entry), style="bold")
    return text
