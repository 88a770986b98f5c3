"""The per-model view: requests, tokens, latency, speed and error rate by model, kept live."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui import format as fmt
from tui.aggregate import Totals, by_model
from tui.messages import StoreChanged
from tui.store import RequestStore

HEADERS = (
    "model",
    "requests",
    "in flight",
    "errors",
    "error rate",
    "in",
    "cached",
    "out",
    "TTFT p50",
    "TTFT p95",
    "tok/s p50",
    "cost",
)


def model_cells(model: str, totals: Totals) -> tuple[Text, ...]:
    rate = totals.error_rate
    values = (
        str(totals.requests),
        str(totals.in_flight),
        str(totals.errors),
        "" if rate is None else f"{100 * rate:.1f}%",
        fmt.tokens(totals.input_tokens, totals.estimated),
        fmt.percent(totals.cache_read_tokens, totals.input_tokens),
        fmt.tokens(totals.output_tokens, totals.estimated),
        fmt.millis(totals.ttft_p50_ms),
        fmt.millis(totals.ttft_p95_ms),
        fmt.rate(totals.median_tokens_per_s),
        fmt.usd(totals.cost_usd, totals.unpriced),
    )
    numbers = [Text(value, justify="right") for value in values]
    if totals.errors:
        numbers[2].stylize("bold red")
        numbers[3].stylize("bold red")
    return (Text(model), *numbers)


class ModelsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("enter", "pick", "Filter by this model", show=True, priority=True),
    ]

    class Picked(Message):
        """The user chose a model: the main table filters on it."""

        def __init__(self, model: str) -> None:
            super().__init__()
            self.model = model

    def __init__(self, store: RequestStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        title = Text("Requests by model, over every request in the table", style="bold")
        yield Static(title, id="models-title")
        yield DataTable(id="models", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#models", DataTable)
        for header in HEADERS:
            table.add_column(Text(header, justify="left" if header == "model" else "right"), key=header)
        self.show()

    def show(self) -> None:
        table = self.query_one("#models", DataTable)
        cursor = table.cursor_row
        table.clear()  # a handful of rows: rebuilding is simpler than diffing
        for model, totals in by_model(self.store.entries()):
            table.add_row(*model_cells(model, totals), key=model)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    def on_store_changed(self, message: StoreChanged) -> None:
        self.show()

    def action_pick(self) -> None:
        table = self.query_one("#models", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key is not None:
                self.app.post_message(self.Picked(key))
        self.app.pop_screen()
