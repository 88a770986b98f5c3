"""The live table: one row per request, newest on top, updated in place.

A Line API widget rather than a ``DataTable``: DataTable re-renders every visible cell after any
cell changes (its render caches are keyed by a table-wide update counter), which under a steady
stream of updates costs a full table repaint several times a second. Here each row is rendered
once into a ``Strip`` and kept until that request changes; a frame is mostly cache lookups, and
inserting a row on top only shifts which strip goes on which line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from metrics.record import ABORTED, DONE, ERROR, PENDING, STREAMING
from tui import format as fmt
from tui.filters import RowFilter
from tui.store import Changes, Entry, RequestStore


class Cell(NamedTuple):
    text: str
    style: str = ""  # a Rich style string; one style per cell is all the table needs


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    right: bool = False  # numbers line up on the right
    drop: int = 0  # in a narrow terminal, columns with the highest number go first; 0 stays


COLUMNS = (
    Column("time", "time", 8, drop=2),
    Column("provider", "provider", 9, drop=4),
    Column("model", "model", 0),  # takes the room the others leave
    Column("state", "state", 18),
    Column("ttft", "TTFT", 6, right=True, drop=1),
    Column("speed", "tok/s", 6, right=True),
    Column("input", "in", 7, right=True),
    Column("output", "out", 7, right=True),
    Column("cache_read", "cache r", 7, right=True, drop=5),
    Column("cache_write", "cache w", 7, right=True, drop=6),
    Column("duration", "time taken", 10, right=True, drop=3),
)
MODEL_MIN, MODEL_MAX = 18, 48
GAP = 2


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def state_cell(entry: Entry) -> Cell:
    """The state as a word and a colour; errors say what went wrong."""
    record = entry.record
    width = 18
    if entry.lost:
        return Cell("? lost", "magenta")
    if record.state == STREAMING:
        return Cell("▶ streaming", "bold cyan")
    if record.state == PENDING:
        return Cell("… pending", "dim")
    if record.state == DONE:
        return Cell("✓ done", "green")
    if record.state == ERROR:
        cause = record.error_type or (f"HTTP {record.status}" if record.status else "error")
        return Cell(_clip(f"✗ {cause}", width), "bold red")
    if record.state == ABORTED:
        return Cell(_clip(f"✗ aborted {record.error_type or ''}".rstrip(), width), "yellow")
    return Cell(_clip(record.state, width))  # a state from a newer schema: shown as is


def row_cells(entry: Entry) -> tuple[Cell, ...]:
    """What one request shows, column by column (COLUMNS order)."""
    record = entry.record
    estimated = record.tokens_estimated
    return (
        Cell(fmt.clock(record.started_at)),
        Cell(record.provider or ""),
        Cell(_clip(record.model or "", MODEL_MAX)),
        state_cell(entry),
        Cell(fmt.millis(record.ttft_ms)),
        Cell(fmt.rate(record.output_tokens_per_s)),
        Cell(fmt.tokens(record.input_tokens, estimated)),
        Cell(fmt.tokens(record.output_tokens, estimated)),
        Cell(fmt.tokens(record.cache_read_tokens)),
        Cell(fmt.tokens(record.cache_write_tokens)),
        Cell(fmt.millis(record.duration_ms)),
    )


def layout(width: int) -> list[tuple[int, int]]:
    """(column index, width) for the columns that fit in ``width`` cells, model column flexed."""
    shown = list(range(len(COLUMNS)))
    while True:
        fixed = sum(COLUMNS[i].width + GAP for i in shown) + GAP
        model = width - fixed - GAP
        droppable = [i for i in shown if COLUMNS[i].drop]
        if model >= MODEL_MIN or not droppable:
            break
        shown.remove(max(droppable, key=lambda i: COLUMNS[i].drop))
    model = max(MODEL_MIN, min(MODEL_MAX, model))
    return [(i, model if COLUMNS[i].key == "model" else COLUMNS[i].width) for i in shown]


def _fit(text: str, width: int, right: bool) -> str:
    size = cell_len(text)
    if size > width:
        return set_cell_size(text, width - 1) + "…"
    return " " * (width - size) + text if right else text + " " * (width - size)


def render_row(
    cells: tuple[Cell, ...], columns: list[tuple[int, int]], width: int, style: Style | None = None
) -> Strip:
    segments = [Segment(" " * GAP, style)]
    for index, column_width in columns:
        cell = cells[index]
        cell_style = Style.parse(cell.style) if cell.style else None  # parse is cached by Rich
        segments.append(
            Segment(
                _fit(cell.text, column_width, COLUMNS[index].right),
                style + cell_style if style and cell_style else style or cell_style,
            )
        )
        segments.append(Segment(" " * GAP, style))
    strip = Strip(segments)
    return strip.adjust_cell_length(width, style)


@dataclass
class RowMessage(Message):
    table: RequestTable
    key: str | None

    @property
    def control(self) -> RequestTable:
        return self.table  # lets handlers use @on(..., "#requests")


class RequestTable(ScrollView, can_focus=True):
    """Rows keyed by request id, a header line on top, a row cursor that stays on its request."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Detail", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "Newest", show=False),
        Binding("end", "edge(1)", "Oldest", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"request-table--header", "request-table--cursor"}
    DEFAULT_CSS = """
    RequestTable {
        background: $surface;
        overflow-x: hidden;
        & > .request-table--header { background: $panel; color: $foreground; text-style: bold; }
        & > .request-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .request-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    @dataclass
    class RowHighlighted(RowMessage):
        """The cursor moved to another row (``key`` is None when the table is empty)."""

        cursor_row: int = 0

    @dataclass
    class RowSelected(RowMessage):
        """Enter, or a click on the highlighted row: open this request."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._order: list[str] = []  # ids top to bottom
        self._index: dict[str, int] = {}  # id -> position in _order
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._rank: dict[str, int] = {}  # id -> the store's arrival order: higher is newer
        self._strips: dict[str, Strip] = {}  # rendered rows for the current width
        self._layout: list[tuple[int, int]] = []
        self._width = -1
        self.cursor_row = 0

    # -- what the app and tests read ------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def selected_id(self) -> str | None:
        return self._order[self.cursor_row] if self._order else None

    def shown_ids(self) -> list[str]:
        return list(self._order)

    def cells(self, key: str) -> tuple[Cell, ...]:
        return self._cells[key]

    # -- changing the rows ----------------------------------------------------------------

    def rebuild(self, entries: Iterable[Entry], row_filter: RowFilter, follow: bool) -> None:
        """Show ``entries`` (newest first) through ``row_filter``: after a filter change or clear."""
        selected = self.selected_id
        self._order = []
        self._cells.clear()
        self._strips.clear()
        self._rank.clear()
        for entry in entries:
            if row_filter.matches(entry):
                self._order.append(entry.record.id)
                self._cells[entry.record.id] = row_cells(entry)
                self._rank[entry.record.id] = entry.order
        self._reindex()
        self.cursor_row = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self._restore_cursor(selected, follow, shift_view=False)

    def apply(self, changes: Changes, store: RequestStore, row_filter: RowFilter, follow: bool) -> None:
        """Bring the rows in line with ``changes``; the cursor stays on its request."""
        selected = self.selected_id
        gone: set[str] = set()
        new: list[Entry] = []
        for key in changes.removed:
            gone.add(key)
        for key in (*changes.added, *changes.updated):
            entry = store.get(key)
            if entry is None or not row_filter.matches(entry):
                gone.add(key)
            elif key in self._index:
                self._update(key, entry)
            else:
                new.append(entry)
        gone &= self._index.keys()
        if gone or new:
            self._reshape(gone, new)
            self._restore_cursor(selected, follow, shift_view=True)
        self.refresh()

    def _update(self, key: str, entry: Entry) -> None:
        cells = row_cells(entry)
        if cells != self._cells[key]:
            self._cells[key] = cells
            self._strips.pop(key, None)

    def _reshape(self, gone: set[str], new: list[Entry]) -> None:
        for key in gone:
            self._cells.pop(key, None)
            self._strips.pop(key, None)
            self._rank.pop(key, None)
        order = [key for key in self._order if key not in gone] if gone else self._order
        if new:
            top = self._rank[order[0]] if order else -1
            for entry in new:
                self._cells[entry.record.id] = row_cells(entry)
                self._rank[entry.record.id] = entry.order
            fresh = sorted((e.record.id for e in new), key=self._rank.__getitem__, reverse=True)
            if self._rank[fresh[-1]] > top:
                order = fresh + order  # the usual case: new requests go on top
            else:
                # An older request shows up again (a filter now matches it): back to its place.
                order = sorted([*order, *fresh], key=self._rank.__getitem__, reverse=True)
        self._order = order
        self._reindex()

    def _reindex(self) -> None:
        self._index = {key: position for position, key in enumerate(self._order)}
        self.virtual_size = Size(self._content_width, len(self._order) + 1)  # +1: the header line
        if self.cursor_row >= len(self._order):
            self.cursor_row = max(0, len(self._order) - 1)

    # -- cursor ---------------------------------------------------------------------------

    def move_cursor(self, row: int, scroll: bool = True) -> None:
        row = max(0, min(row, len(self._order) - 1)) if self._order else 0
        changed = row != self.cursor_row
        self.cursor_row = row
        if scroll:
            self._scroll_to_cursor()
        self.refresh()
        if changed:
            self.post_message(self.RowHighlighted(self, self.selected_id, row))

    def _restore_cursor(self, selected: str | None, follow: bool, shift_view: bool) -> None:
        if not self._order:
            return
        if follow:
            self.move_cursor(0)  # the newest request, scrolled into view
            return
        if selected is None or selected not in self._index:
            self.move_cursor(self.cursor_row)  # its row went away: the cursor stays where it was
            return
        shift = self._index[selected] - self.cursor_row
        if not shift:
            return
        # Rows arrived above: the cursor moves with its request, and a scrolled view moves with it
        # so the line being read does not jump.
        if shift_view and self.scroll_y > 0:
            self.scroll_to(y=self.scroll_y + shift, animate=False, immediate=True)
        self.move_cursor(self._index[selected])

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)  # rows under the header
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(1, self.scrollable_content_region.height - 2))

    def action_edge(self, end: int) -> None:
        self.move_cursor(len(self._order) - 1 if end else 0)

    def action_select(self) -> None:
        if self.selected_id is not None:
            self.post_message(self.RowSelected(self, self.selected_id))

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_y) + event.y - 1
        if event.y < 1 or row >= len(self._order):
            return
        if row == self.cursor_row:
            self.action_select()  # a click on the highlighted row opens it, as in DataTable
        else:
            self.move_cursor(row, scroll=False)

    # -- rendering ------------------------------------------------------------------------

    @property
    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def on_resize(self) -> None:
        self._reindex()  # the virtual width follows the widget
        self._scroll_to_cursor()

    def render_line(self, y: int) -> Strip:
        width = self._content_width
        if width != self._width:
            self._width = width
            self._layout = layout(width)
            self._strips.clear()
        if y == 0:
            return self._header(width)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._order):
            return Strip.blank(width)
        key = self._order[index]
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = render_row(self._cells[key], self._layout, width)
        if index == self.cursor_row:
            strip = strip.apply_style(self.get_component_rich_style("request-table--cursor"))
        return strip

    def _header(self, width: int) -> Strip:
        labels = tuple(Cell(column.label) for column in COLUMNS)
        return render_row(labels, self._layout, width, self.get_component_rich_style("request-table--header"))
