"""The app against a real feed socket served by the project's FeedPublisher, across a restart."""

from __future__ import annotations

from pathlib import Path

from metrics.feed import FeedPublisher
from metrics.record import DONE, STREAMING, Record
from tests.tui.helpers import T0, row, table, text_of, wait_until
from tui.app import LiveTokenApp
from tui.feed_client import Backoff


def record(key: str, state: str, **fields: object) -> Record:
    return Record(
        id=key,
        state=state,
        provider="anthropic",
        api="messages",
        model="claude-sonnet-4-5",
        started_at=T0,
        **fields,
    )  # type: ignore[arg-type]


async def test_rows_stream_in_and_survive_a_publisher_restart(short_tmp: Path) -> None:
    path = str(short_tmp / "feed.sock")
    publisher = FeedPublisher(path, history=10)
    await publisher.start()
    publisher.publish(record("r1", DONE, output_tokens=300))
    publisher.publish(record("r2", STREAMING, output_tokens=10))

    app = LiveTokenApp(path, clock=lambda: T0)
    app.feed.flush_interval = 0.05
    app.feed.backoff = Backoff(first=0.05, limit=0.2)
    async with app.run_test(size=(150, 30)) as pilot:
        try:
            # Backlog, in flight included, then live updates in place.
            await wait_until(pilot, lambda: table(app).shown_ids() == ["r2", "r1"])
            assert f"connected to {path}" in text_of(app, "#connection")
            publisher.publish(record("r2", STREAMING, output_tokens=150))
            await wait_until(pilot, lambda: row(app, "r2")["output"] == "150")

            # The proxy goes away: the app says so, keeps its rows and waits.
            await publisher.close()
            await wait_until(pilot, lambda: "waiting for the proxy" in text_of(app, "#connection"))
            assert path in text_of(app, "#connection")
            assert table(app).shown_ids() == ["r2", "r1"]

            # A new proxy on the same path: its snapshot replaces what it knows, nothing doubles.
            publisher = FeedPublisher(path, history=10)
            await publisher.start()
            publisher.publish(record("r1", DONE, output_tokens=300))
            publisher.publish(record("r3", STREAMING))
            await wait_until(pilot, lambda: "r3" in table(app).shown_ids())
            assert f"connected to {path}" in text_of(app, "#connection")
            assert table(app).shown_ids() == ["r3", "r2", "r1"]
            assert row(app, "r2")["state"] == "? lost"  # in flight on the old proxy, unknown to the new
            publisher.publish(record("r3", DONE, output_tokens=42))
            await wait_until(pilot, lambda: row(app, "r3")["state"] == "✓ done")
            assert row(app, "r3")["output"] == "42"
            assert "requests 3" in text_of(app, "#summary") and "in flight 0" in text_of(app, "#summary")
        finally:
            await publisher.close()
