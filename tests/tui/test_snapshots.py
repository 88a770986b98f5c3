"""Pictures of the three screens with frozen data and clock (pytest-textual-snapshot).

After a deliberate change of the look: ``uv run pytest tests/tui --snapshot-update`` and review the
SVGs in ``tests/tui/__snapshots__`` before committing them.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from metrics.record import DONE, ERROR, PENDING, STREAMING
from tests.tui.helpers import T0, connected, feed, hello, make_app, message

SIZE = (130, 24)


def sample() -> list[dict[str, Any]]:
    """A little of everything: fast and slow models, cache hits, an estimate, errors, a stream."""
    return [
        hello(),
        message(
            "r1",
            state=DONE,
            started_at=T0,
            status=200,
            ttfb_ms=310,
            ttft_ms=402.6,
            duration_ms=6120,
            output_tokens_per_s=48.7,
            tpot_ms=20.5,
            itl_p50_ms=19.8,
            itl_p95_ms=31.2,
            itl_max_ms=88,
            chunks=300,
            input_tokens=12_480,
            output_tokens=300,
            cache_read_tokens=11_200,
            cache_write_tokens=0,
            stop_reason="end_turn",
            request_id="req_011CTq9",
            rate_limits={
                "anthropic-ratelimit-requests-remaining": "49",
                "anthropic-ratelimit-tokens-reset": "2025-01-02T03:05:00Z",
            },
        ),
        message(
            "r2",
            state=DONE,
            started_at=T0 + 2,
            provider="openai",
            api="chat_completions",
            path="/v1/chat/completions",
            model="gpt-4o-mini",
            status=200,
            ttft_ms=210,
            duration_ms=3020,
            output_tokens_per_s=32.3,
            input_tokens=880,
            output_tokens=98,
            tokens_estimated=True,
        ),
        message(
            "r3",
            state=ERROR,
            started_at=T0 + 3,
            model="claude-opus-4-1",
            status=429,
            duration_ms=12,
            error_type="rate_limit_error",
            error_message="Number of request tokens has exceeded your limit",
        ),
        message(
            "r4",
            state=ERROR,
            started_at=T0 + 5,
            provider="openai",
            api="responses",
            path="/v1/responses",
            model="gpt-5",
            status=502,
            duration_ms=30_010,
        ),
        message(
            "r5",
            state=STREAMING,
            started_at=T0 + 7,
            ttft_ms=388,
            output_tokens_per_s=51.2,
            input_tokens=20_311,
            output_tokens=1_204,
            cache_read_tokens=18_000,
            cache_write_tokens=2_311,
        ),
        message("r6", state=PENDING, started_at=T0 + 9, model="claude-haiku-4-5"),
    ]


async def loaded(pilot: Pilot) -> None:
    app = pilot.app
    await feed(pilot, *sample())
    connected(app)  # type: ignore[arg-type]
    await pilot.pause()


def test_main_screen(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=loaded)


def test_detail_view(snap_compare: Any) -> None:
    # The cursor starts on the newest row; four rows down is r1, the request with every field set.
    assert snap_compare(
        make_app(),
        terminal_size=SIZE,
        run_before=loaded,
        press=["down", "down", "down", "down", "down", "enter"],
    )


def test_per_model_view(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=loaded, press=["m"])
