"""``livetoken-tui``: the live dashboard over the LiveToken feed.

The app owns the ``RequestStore``; the feed worker sends it batches (``RecordsReceived``) and
connection news (``FeedStatus``); the widgets only display what the app hands them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input

from metrics.feed import resolve_socket_path
from tui import format as fmt
from tui.aggregate import totals
from tui.feed_client import FeedClient
from tui.filters import STATE_CHOICES, RowFilter, cycle, seen_values
from tui.messages import ConnectionStatus, FeedStatus, Link, RecordsReceived, StoreChanged
from tui.screens.detail import DetailScreen
from tui.screens.models import ModelsScreen
from tui.store import Batch, Changes, RequestStore
from tui.widgets.connection_bar import ConnectionBar
from tui.widgets.request_table import RequestTable
from tui.widgets.status_bar import StatusBar, ViewState
from tui.widgets.summary import SummaryStrip


class SearchBox(Input):
    """Free-text filter; Escape empties it and hands the keys back to the table."""

    BINDINGS = [Binding("escape", "dismiss", "Close search")]

    def action_dismiss(self) -> None:
        self.value = ""
        self.display = False
        self.app.set_focus(self.app.query_one(RequestTable))


class LiveTokenApp(App[None]):
    CSS_PATH = Path(__file__).with_name("livetoken.tcss")  # absolute: subclasses live elsewhere
    TITLE = "LiveToken"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("d", "detail", "Detail"),
        Binding("m", "models", "Models"),
        Binding("slash", "search", "Search"),
        Binding("p", "cycle_provider", "Provider"),
        Binding("o", "cycle_model", "Model"),
        Binding("s", "cycle_state", "State"),
        Binding("escape", "clear_filters", "No filter"),
        Binding("space", "toggle_pause", "Pause"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("c", "clear", "Clear"),
    ]

    # Actions that work on the live table: hidden and inert while a detail or model view is open.
    TABLE_ACTIONS = frozenset(
        {
            "detail",
            "models",
            "search",
            "cycle_provider",
            "cycle_model",
            "cycle_state",
            "clear_filters",
            "toggle_follow",
            "clear",
        }
    )

    follow: reactive[bool] = reactive(True)
    paused: reactive[bool] = reactive(False)
    row_filter: reactive[RowFilter] = reactive(RowFilter)

    def __init__(
        self,
        socket_path: str | None = None,
        *,
        connect: bool = True,
        clock: Callable[[], float] = time.time,
        max_rows: int = 10_000,
    ) -> None:
        super().__init__()
        self.socket_path = resolve_socket_path(socket_path)
        self.connect = connect
        self.clock = clock
        self.store = RequestStore(max_rows)
        self.since = clock()
        self.feed = FeedClient(self.socket_path, self.post_message)
        self._held = Batch()  # updates that arrived while paused

    def compose(self) -> ComposeResult:
        # Kept as attributes, not queried: a batch that lands while the app shuts down must still
        # find its widgets (a query would raise once they are unmounted).
        self.connection_bar = ConnectionBar(id="connection")
        self.summary = SummaryStrip(id="summary")
        self.table = RequestTable(id="requests")
        self.search = SearchBox(placeholder="search: model, id, path, error… (Esc closes)", id="search")
        self.status_bar = StatusBar(id="status")
        yield from (self.connection_bar, self.summary, self.table, self.search, self.status_bar, Footer())

    def on_mount(self) -> None:
        self.search.display = False
        self.connection_bar.note = self.sub_title
        self.connection_bar.status = ConnectionStatus(Link.CONNECTING, self.socket_path)
        self._refresh_summary()
        self._refresh_status()
        if self.connect:
            self.run_worker(self.feed.run(), name="feed", group="feed", exclusive=True)

    def watch_sub_title(self, sub_title: str) -> None:
        # There is no header: a launcher's sub-title (proxy URL, log file) joins the connection line.
        if self.is_running:  # a launcher may set it before run(); on_mount picks it up then
            self.connection_bar.note = sub_title

    # -- feed ----------------------------------------------------------------------------

    def on_feed_status(self, message: FeedStatus) -> None:
        bar = self.connection_bar
        if message.status.warning and message.status.warning != getattr(bar.status, "warning", ""):
            self.notify(message.status.warning, title="Feed schema", severity="warning", timeout=10)
        bar.status = message.status

    def on_records_received(self, message: RecordsReceived) -> None:
        if self.paused:
            self._held.merge(message.batch)
            self._refresh_status()
        else:
            self.apply(message.batch)

    def apply(self, batch: Batch) -> Changes:
        """Show a batch: store, table, summary and any open screen; one redraw for all of it."""
        changes = self.store.apply(batch)
        if changes:
            self.table.apply(changes, self.store, self.row_filter, self.follow)
            self._after_change(changes)
        return changes

    def _after_change(self, changes: Changes) -> None:
        self._refresh_summary()
        self._refresh_status()
        if not self.on_main_screen:
            self.screen.post_message(StoreChanged(changes))

    def _refresh_summary(self) -> None:
        self.summary.show(totals(self.store.entries()), fmt.clock(self.since))

    def _refresh_status(self) -> None:
        view = ViewState(
            follow=self.follow,
            paused=self.paused,
            waiting_updates=len(self._held),
            row_filter=self.row_filter,
            shown=self.table.row_count,
            total=len(self.store),
        )
        self.status_bar.show(view)

    # -- view state ----------------------------------------------------------------------

    def watch_row_filter(self) -> None:
        self._rebuild()
        self.refresh_bindings()  # "No filter" shows only while a filter is on

    def watch_follow(self, follow: bool) -> None:
        if follow and self.table.row_count:
            self.table.move_cursor(0)
        self._refresh_status()

    def watch_paused(self, paused: bool) -> None:
        if not paused and self._held:
            held, self._held = self._held, Batch()
            self.apply(held)
        self._refresh_status()

    def _rebuild(self) -> None:
        self.table.rebuild(self.store.newest_first(), self.row_filter, self.follow)
        self._refresh_status()

    @on(RequestTable.RowHighlighted, "#requests")
    def _cursor_moved(self, event: RequestTable.RowHighlighted) -> None:
        # Moving away from the newest row means the user is reading: stop following.
        if self.follow and self.table.cursor_row > 0:  # the table now, not a stale event
            self.follow = False

    @on(RequestTable.RowSelected, "#requests")
    def _row_chosen(self) -> None:
        self.action_detail()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.set_filter(text=event.value.strip())

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.set_focus(self.table)

    def on_models_screen_picked(self, message: ModelsScreen.Picked) -> None:
        self.set_filter(model=message.model)

    # -- actions -------------------------------------------------------------------------

    @property
    def on_main_screen(self) -> bool:
        return self.screen is self.screen_stack[0]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filters" and not self.row_filter.active:
            return False  # nothing to clear: keep it out of the footer
        return self.on_main_screen or action not in self.TABLE_ACTIONS

    def action_detail(self) -> None:
        key = self.table.selected_id
        if key is not None and self.on_main_screen:
            self.push_screen(DetailScreen(self.store, key))

    def action_models(self) -> None:
        if self.on_main_screen:
            self.push_screen(ModelsScreen(self.store))

    def action_search(self) -> None:
        self.search.display = True
        self.set_focus(self.search)

    def action_cycle_provider(self) -> None:
        self._cycle("provider", seen_values(self.store.entries(), "provider"))

    def action_cycle_model(self) -> None:
        self._cycle("model", seen_values(self.store.entries(), "model"))

    def action_cycle_state(self) -> None:
        self._cycle("state", STATE_CHOICES)

    def _cycle(self, name: str, choices: Sequence[str]) -> None:
        """One key per filter: each press shows the next value, then all again."""
        self.set_filter(**{name: cycle(getattr(self.row_filter, name), choices)})

    def action_clear_filters(self) -> None:
        self.search.action_dismiss()
        self.row_filter = RowFilter()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_clear(self) -> None:
        removed = self.store.clear()
        self._held = Batch()
        self.since = self.clock()
        self._rebuild()
        self._after_change(Changes(removed=removed))

    def set_filter(self, **changes: str | None) -> None:
        self.row_filter = self.row_filter.with_(**changes)

    # -- command palette -----------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Pause / resume", "Freeze the table; updates wait", self.action_toggle_pause)
        yield SystemCommand(
            "Follow newest", "Toggle keeping the cursor on the newest request", self.action_toggle_follow
        )
        yield SystemCommand("Clear", "Forget every request shown so far", self.action_clear)
        yield SystemCommand("Per-model view", "Requests, tokens, latency by model", self.action_models)
        yield SystemCommand("Request detail", "Every field of the selected request", self.action_detail)
        yield SystemCommand("Search", "Filter rows by free text", self.action_search)
        yield SystemCommand("Remove filters", "Show every request", self.action_clear_filters)
        for name, choices in (
            ("provider", seen_values(self.store.entries(), "provider")),
            ("model", seen_values(self.store.entries(), "model")),
            ("state", list(STATE_CHOICES)),
        ):
            for choice in choices:
                yield SystemCommand(
                    f"Only {name} {choice}",
                    f"Filter the table on {name} = {choice}",
                    lambda n=name, c=choice: self.set_filter(**{n: c}),
                )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livetoken-tui", description="Live dashboard of the LLM requests passing the LiveToken proxy."
    )
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="feed socket (default: $LIVETOKEN_SOCKET, else the per-user path the proxy uses)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=10_000,
        metavar="N",
        help="requests kept in the table; the oldest finished ones go first (default 10000)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    LiveTokenApp(args.socket, max_rows=max(1, args.max_rows)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
