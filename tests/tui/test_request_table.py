"""The request table widget: column layout, what a line shows, cursor keys and a steady view."""

from __future__ import annotations

from metrics.record import DONE, STREAMING
from tests.tui.helpers import feed, make_app, message, table
from tui.aggregate import Totals
from tui.screens.detail import DetailScreen
from tui.widgets.request_table import COLUMNS, MODEL_MAX, MODEL_MIN, layout
from tui.widgets.summary import summary_text


def names(width: int) -> list[str]:
    return [COLUMNS[index].key for index, _ in layout(width)]


def test_layout_flexes_the_model_column_and_drops_the_least_useful_columns_first() -> None:
    wide = {COLUMNS[i].key: w for i, w in layout(250)}
    assert len(wide) == len(COLUMNS) and wide["model"] == MODEL_MAX
    dropped: list[str] = []
    for width in range(250, 30, -1):
        shown = names(width)
        dropped += [c.key for c in COLUMNS if c.key not in shown and c.key not in dropped]
        model = {COLUMNS[i].key: w for i, w in layout(width)}["model"]
        assert model >= MODEL_MIN  # a model name stays readable: columns go before it shrinks
        if len(shown) == len(COLUMNS) or model > MODEL_MIN:
            assert sum(w + 2 for _, w in layout(width)) + 2 <= width  # everything shown fits
    assert dropped == ["cache_write", "cache_read", "provider", "duration", "time", "ttft"]
    assert names(40) == ["model", "state", "speed", "input", "output"]  # the essentials stay


def test_summary_takes_two_lines_only_when_one_does_not_fit() -> None:
    totals = Totals(requests=3, input_tokens=12_000, cache_read_tokens=6_000, ttft_p50_ms=400)
    assert "\n" not in summary_text(totals, "03:04:05", width=200).plain
    two = summary_text(totals, "03:04:05", width=60).plain.split("\n")
    assert two[0].startswith("requests 3") and two[0].endswith("since 03:04:05")
    assert two[1].startswith("in 12.0k (50% cached)")


async def test_a_row_is_redrawn_when_its_request_changes() -> None:
    app = make_app()
    async with app.run_test(size=(150, 20)) as pilot:
        await feed(pilot, message("r1", state=STREAMING, output_tokens=10))
        first = table(app).render_line(1).text  # line 0 is the header
        assert "▶ streaming" in first and "claude-sonnet-4-5" in first
        await feed(pilot, message("r1", state=DONE, output_tokens=345))
        line = table(app).render_line(1).text
        assert "✓ done" in line and "345" in line  # not a stale cached line
        assert table(app).render_line(0).text.split()[:3] == ["time", "provider", "model"]


async def test_cursor_keys_and_clicks() -> None:
    app = make_app()
    async with app.run_test(size=(150, 20)) as pilot:
        await feed(pilot, *(message(f"r{i:02d}") for i in range(40)))
        rows = table(app)
        await pilot.press("end")
        assert rows.selected_id == "r00" and rows.scroll_y > 0  # the oldest, scrolled into view
        await pilot.press("home", "pagedown")
        assert rows.cursor_row > 10
        await pilot.press("home", "down", "down", "up")
        assert rows.selected_id == "r38"
        await pilot.click(rows, offset=(5, 4))  # line 4 is the fourth row under the header
        assert rows.selected_id == "r36"
        await pilot.click(rows, offset=(5, 4))  # a click on the highlighted row opens it
        assert isinstance(app.screen, DetailScreen) and app.screen.key == "r36"


async def test_a_scrolled_view_holds_still_while_rows_arrive_on_top() -> None:
    app = make_app()
    async with app.run_test(size=(150, 20)) as pilot:
        await feed(pilot, *(message(f"r{i:02d}") for i in range(40)))
        rows = table(app)
        await pilot.press("pagedown", "pagedown", "up", "up", "up", "up", "up")  # mid-screen
        key, line = rows.selected_id, rows.cursor_row - rows.scroll_y
        assert rows.scroll_y > 0 and not app.follow
        await feed(pilot, message("n1"), message("n2"), message("n3"))
        assert rows.shown_ids()[:3] == ["n3", "n2", "n1"]
        assert rows.selected_id == key
        assert rows.cursor_row - rows.scroll_y == line  # same request on the same screen line
