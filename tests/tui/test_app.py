"""The dashboard driven with Pilot: records go in through the app's feed client, keys are pressed."""

from __future__ import annotations

import pytest

from metrics.record import DONE, ERROR, PENDING, STREAMING
from tests.tui.helpers import cell_style, feed, hello, make_app, message, row, table, text_of
from tui.app import LiveTokenApp
from tui.messages import ConnectionStatus, FeedStatus, Link
from tui.screens.detail import DetailScreen
from tui.screens.models import ModelsScreen
from tui.widgets.connection_bar import ConnectionBar

SIZE = (150, 30)


async def test_a_row_appears_streams_in_place_and_ends_with_its_final_state() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, message("r1", state=PENDING))
        assert table(app).shown_ids() == ["r1"]
        assert row(app, "r1")["state"] == "… pending"

        await feed(
            pilot,
            message(
                "r1", state=STREAMING, ttft_ms=420, output_tokens=12, input_tokens=1200, tokens_estimated=True
            ),
        )
        assert table(app).shown_ids() == ["r1"]  # updated in place, not a second row
        cells = row(app, "r1")
        assert cells["state"] == "▶ streaming" and cells["ttft"] == "420ms"
        assert (cells["input"], cells["output"]) == ("~1.2k", "~12")  # estimated counts are marked

        await feed(
            pilot,
            message(
                "r1",
                state=DONE,
                ttft_ms=420,
                output_tokens=345,
                input_tokens=1234,
                output_tokens_per_s=48.26,
                duration_ms=7400,
                cache_read_tokens=1000,
            ),
        )
        cells = row(app, "r1")
        assert cells["state"] == "✓ done"
        assert (cells["input"], cells["output"], cells["speed"]) == ("1.2k", "345", "48.3")
        assert (cells["cache_read"], cells["duration"]) == ("1.0k", "7.40s")
        summary = text_of(app, "#summary")
        assert "requests 1" in summary and "in flight 0" in summary and "(81% cached)" in summary


async def test_errors_are_red_and_say_what_went_wrong() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            message("typed", state=ERROR, status=429, error_type="rate_limit_error"),
            message("bare", state=ERROR, status=502),
            message("cut", state="aborted", error_type="client_disconnected"),
        )
        assert row(app, "typed")["state"] == "✗ rate_limit_error"
        assert row(app, "bare")["state"] == "✗ HTTP 502"
        assert "red" in cell_style(app, "typed", "state")
        assert row(app, "cut")["state"].startswith("✗ aborted")
        assert "errors 2" in text_of(app, "#summary")


async def test_newest_on_top_and_follow_keeps_the_cursor_on_the_newest() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, message("r1"), message("r2"))
        await feed(pilot, message("r3"))
        assert table(app).shown_ids() == ["r3", "r2", "r1"]
        assert app.follow and table(app).selected_id == "r3"


async def test_the_cursor_stays_on_its_row_while_others_arrive_and_update() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, *(message(f"r{i}", state=STREAMING) for i in range(5)))
        await pilot.press("down", "down")  # reading r2: moving off the top ends follow
        assert table(app).selected_id == "r2" and not app.follow
        assert "follow off" in text_of(app, "#status")

        await feed(pilot, message("r5"), message("r6"), message("r2", state=DONE), message("r0", state=DONE))
        assert table(app).shown_ids()[:2] == ["r6", "r5"]
        assert table(app).selected_id == "r2"  # two rows above it now, the cursor moved with it

        await pilot.press("f")  # follow again: back to the newest
        assert app.follow and table(app).selected_id == "r6"


async def test_filters_by_provider_state_model_and_text() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            message("a1", state=DONE),
            message("a2", state=ERROR, error_type="overloaded_error", model="claude-opus-4-1"),
            message("o1", state=STREAMING, provider="openai", api="chat_completions", model="gpt-4o"),
        )
        await pilot.press("p")  # providers cycle in name order: anthropic first
        assert table(app).shown_ids() == ["a2", "a1"]
        await pilot.press("p")
        assert table(app).shown_ids() == ["o1"]
        await pilot.press("p")  # past the last provider: no provider filter
        assert len(table(app).shown_ids()) == 3

        await pilot.press("s")  # first state choice: in flight
        assert table(app).shown_ids() == ["o1"] and "state=in flight" in text_of(app, "#status")
        await pilot.press("s", "s")  # done, then error
        assert table(app).shown_ids() == ["a2"]
        await pilot.press("escape")
        assert len(table(app).shown_ids()) == 3

        await pilot.press("o")  # models in name order
        assert table(app).shown_ids() == ["a2"]
        await pilot.press("escape")

        await pilot.press("slash", *"OVERLOADED")  # search is case-insensitive, over error text too
        assert table(app).shown_ids() == ["a2"]
        assert "1 of 3 requests shown" in text_of(app, "#status")
        await pilot.press("escape")  # closes the search box and empties it
        assert len(table(app).shown_ids()) == 3 and not app.row_filter.active


async def test_a_filtered_out_update_leaves_the_table_and_a_matching_one_joins() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, message("r1", state=STREAMING), message("r2", state=DONE))
        await pilot.press("s")  # in flight only
        assert table(app).shown_ids() == ["r1"]
        await feed(pilot, message("r1", state=DONE), message("r3", state=PENDING))
        assert table(app).shown_ids() == ["r3"]


async def test_detail_view_shows_every_field_and_follows_the_stream() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            message(
                "r1",
                state=STREAMING,
                request_id="req_123",
                itl_p95_ms=31.5,
                rate_limits={"anthropic-ratelimit-requests-remaining": "49"},
            ),
        )
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        body = text_of(app, "#detail")
        for expected in (
            "req_123",
            "31.5 ms",
            "anthropic-ratelimit-requests-remaining",
            "49",
            "2025-01-02 03:04:05.000",
        ):
            assert expected in body
        await feed(
            pilot,
            message(
                "r1",
                state=ERROR,
                error_type="overloaded_error",
                error_message="Overloaded",
                request_id="req_123",
            ),
        )
        body = text_of(app, "#detail")
        assert "Overloaded" in body and "overloaded_error" in body  # live while open
        await pilot.press("p")  # table keys do nothing here
        assert not app.row_filter.active
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_per_model_view_counts_and_picks_a_model() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            message(
                "a",
                state=DONE,
                model="m-big",
                ttft_ms=100,
                output_tokens_per_s=50,
                input_tokens=1000,
                cost_usd=0.0123,
            ),
            message("b", state=ERROR, model="m-big", ttft_ms=300),
            message("c", state=DONE, model="m-small", ttft_ms=50, output_tokens_per_s=200),
        )
        await pilot.press("m")
        assert isinstance(app.screen, ModelsScreen)
        models = app.screen.query_one("#models")
        big = [cell.plain for cell in models.get_row("m-big")]
        assert big == [
            "m-big",
            "2",
            "0",
            "1",
            "50.0%",
            "1.0k",
            "0%",
            "0",
            "200ms",
            "290ms",
            "50.0",
            "$0.0123",
        ]
        assert models.get_row_at(0)[0].plain == "m-big"  # busiest first
        await feed(pilot, message("d", state=STREAMING, model="m-small"))
        assert [cell.plain for cell in models.get_row("m-small")][1:3] == ["2", "1"]  # live
        await pilot.press("down", "enter")
        assert not isinstance(app.screen, ModelsScreen)
        assert app.row_filter.model == "m-small"
        assert set(table(app).shown_ids()) == {"c", "d"}


async def test_pause_holds_updates_and_resume_shows_them() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, message("r1", state=STREAMING))
        await pilot.press("space")
        await feed(pilot, message("r1", state=DONE), message("r2"))
        assert table(app).shown_ids() == ["r1"] and row(app, "r1")["state"] == "▶ streaming"
        assert "PAUSED" in text_of(app, "#status") and "2 requests with updates" in text_of(app, "#status")
        await pilot.press("space")
        assert table(app).shown_ids() == ["r2", "r1"] and row(app, "r1")["state"] == "✓ done"


async def test_clear_empties_table_and_summary() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, message("r1", state=DONE, output_tokens=5))
        await pilot.press("c")
        assert table(app).shown_ids() == [] and "requests 0" in text_of(app, "#summary")
        await feed(pilot, message("r1", state=DONE), message("r2"))  # a snapshot repeating r1
        assert table(app).shown_ids() == ["r2"]


async def test_connection_state_is_always_visible() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert "connecting to /run/user/1000/livetoken/feed.sock" in text_of(app, "#connection")
        app.post_message(
            FeedStatus(
                ConnectionStatus(
                    Link.WAITING,
                    app.socket_path,
                    retry_in=2.0,
                    attempt=3,
                    detail="no socket there yet: is the proxy running?",
                )
            )
        )
        await pilot.pause()
        line = text_of(app, "#connection")
        assert "waiting for the proxy at /run/user/1000/livetoken/feed.sock" in line
        assert "is the proxy running" in line and "next in 2s" in line
        await feed(pilot, hello())
        assert "connected to /run/user/1000/livetoken/feed.sock" in text_of(app, "#connection")
        assert app.query_one(ConnectionBar).has_class("-connected")


async def test_a_newer_schema_shows_a_warning_and_still_shows_rows() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, hello(schema=3), {**message("r1", state=DONE), "shiny_new_metric": 1.5})
        line = text_of(app, "#connection")
        assert "schema 3" in line and "upgrade livetoken" in line
        assert app.query_one(ConnectionBar).has_class("-warning")
        assert table(app).shown_ids() == ["r1"]


async def test_garbage_records_render_blank_and_the_app_keeps_going() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            {
                "type": "request",
                "id": "odd",
                "state": None,
                "model": 42,
                "started_at": "noon",
                "input_tokens": "many",
                "ttft_ms": -1e400,
                "rate_limits": "none",
            },
            {"type": "request", "id": "weird-state", "state": "thinking_hard"},
            {"type": "request"},
            "not a map",
            {"no": "type"},
        )
        assert table(app).shown_ids() == ["weird-state", "odd"]
        assert row(app, "odd")["model"] == "" and row(app, "odd")["input"] == ""
        assert row(app, "weird-state")["state"] == "thinking_hard"
        await pilot.press("up", "enter")
        assert isinstance(app.screen, DetailScreen)  # the detail view copes too
        await pilot.press("escape", "m")
        assert isinstance(app.screen, ModelsScreen)


async def test_reconnect_snapshot_updates_rows_without_duplicates() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, hello(), message("r1", state=STREAMING), message("r2", state=STREAMING))
        await feed(pilot, hello(), message("r1", state=DONE), message("r3"))  # the proxy restarted
        assert table(app).shown_ids() == ["r3", "r2", "r1"]
        assert row(app, "r1")["state"] == "✓ done"
        assert row(app, "r2")["state"] == "? lost"
        assert "in flight 1" in text_of(app, "#summary")  # r3 only


async def test_command_palette_runs_our_commands() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(pilot, message("r1", state=DONE), message("r2", state=STREAMING))
        await pilot.press("ctrl+p", *"only state done")
        await pilot.pause(0.5)  # the palette searches asynchronously
        await pilot.press("enter")
        await pilot.pause()
        assert app.row_filter.state == DONE and table(app).shown_ids() == ["r1"]
        await pilot.press("ctrl+p", *"per-model view")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen)


async def test_q_quits() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0 and not app.is_running


async def test_the_default_socket_follows_the_shared_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVETOKEN_SOCKET", "/tmp/lt-env/feed.sock")
    assert LiveTokenApp(connect=False).socket_path == "/tmp/lt-env/feed.sock"
    assert LiveTokenApp("/tmp/lt-cli.sock", connect=False).socket_path == "/tmp/lt-cli.sock"


async def test_a_launcher_sub_title_joins_the_connection_line() -> None:
    app = make_app()
    app.sub_title = "proxy http://127.0.0.1:7357 · log /tmp/livetoken.log"  # before run, as the launcher
    async with app.run_test(size=SIZE) as pilot:
        assert "proxy http://127.0.0.1:7357" in text_of(app, "#connection")
        app.sub_title = "proxy http://127.0.0.1:7400"
        await pilot.pause()
        assert "7400" in text_of(app, "#connection")


async def test_cost_totals_say_when_some_requests_had_no_price() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await feed(
            pilot,
            message("a", state=DONE, input_tokens=10, cost_usd=0.5),
            message("b", state=DONE, input_tokens=10, cost_usd=0.25),
            message("d", state=STREAMING, input_tokens=10),
        )
        assert "cost $0.7500" in text_of(app, "#summary") and "+?" not in text_of(app, "#summary")
        await feed(pilot, message("c", state=DONE, input_tokens=10, model="my-finetune"))  # no price known
        assert "cost $0.7500+?" in text_of(app, "#summary")
