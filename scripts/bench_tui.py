"""Benchmark livetoken-tui under load: 1,000 rows and 50 record updates a second.

    uv run python scripts/bench_tui.py [--rows 1000] [--rate 50] [--seconds 20]

A child process runs a real ``FeedPublisher`` (so its CPU is not counted) that first sends
``--rows`` finished requests and then publishes ``--rate`` updates a second: requests that start, stream
with several updates each and finish, so new rows keep arriving on top. This process runs the app
headless under Pilot against that socket and reports:

- CPU share of this process (the TUI) while under load;
- frames: how many screen updates happened, and how long each took (layout, widget rendering and
  compositing: Textual's ``Screen._on_timer_update``, plus turning the update into terminal bytes,
  which headless mode would otherwise skip);
- batch time: applying one feed batch to the store, table, summary and status line;
- key latency: from a ``down`` key entering the app's queue, under load, to the end of the first
  frame that shows the moved cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import textual
from textual import events
from textual._compositor import CompositorUpdate
from textual.screen import Screen

from metrics.feed import FeedPublisher
from metrics.record import DONE, PENDING, STREAMING, Record
from metrics.stats import percentile
from tui.app import LiveTokenApp
from tui.store import Batch, Changes
from tui.widgets.request_table import RequestTable

MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "gpt-4o-mini", "gpt-5")
UPDATES_PER_REQUEST = 25  # pending, 23 streaming updates, done
CONCURRENT = 10


# -- the proxy side (child process) -----------------------------------------------------------


def fake_record(n: int, state: str, step: int = 0) -> Record:
    model = MODELS[n % len(MODELS)]
    tokens = step * 12
    return Record(
        id=f"req-{n:06d}",
        state=state,
        provider="openai" if model.startswith("gpt") else "anthropic",
        api="messages",
        method="POST",
        path="/v1/messages",
        status=200,
        stream=True,
        model=model,
        started_at=time.time(),
        ttft_ms=300 + n % 200 if step else None,
        chunks=step * 4,
        output_tokens_per_s=40 + n % 30 if step > 1 else None,
        input_tokens=1000 + n * 7,
        output_tokens=tokens or None,
        cache_read_tokens=800 if n % 3 == 0 else 0,
        duration_ms=5000 + n % 1000 if state == DONE else None,
        tokens_estimated=state == STREAMING,
    )


async def serve(path: str, rows: int, rate: float, ready: Any, stop: Any) -> None:
    publisher = FeedPublisher(path, history=100)
    await publisher.start()
    ready.set()
    while not publisher.subscribers:
        await asyncio.sleep(0.01)
    # The finished rows arrive live, in bursts: a snapshot that large would exceed the feed's
    # per-subscriber buffer (1 MiB, about 1,500 records) and get the TUI disconnected.
    for n in range(rows):
        publisher.publish(fake_record(n, DONE, UPDATES_PER_REQUEST))
        if n % 200 == 199:
            await asyncio.sleep(0.05)
    next_id = rows
    active: dict[int, int] = {}  # request number -> updates sent
    interval = 1 / rate
    tick = time.perf_counter()
    while not stop.is_set():
        while len(active) < CONCURRENT:
            active[next_id] = 0
            next_id += 1
        n = min(active, key=active.__getitem__)  # round robin: the least advanced stream next
        step = active[n]
        state = PENDING if step == 0 else DONE if step == UPDATES_PER_REQUEST - 1 else STREAMING
        publisher.publish(fake_record(n, state, step))
        active[n] = step + 1
        if state == DONE:
            del active[n]
        tick += interval
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    await publisher.close()


def publisher_process(path: str, rows: int, rate: float, ready: Any, stop: Any) -> None:
    asyncio.run(serve(path, rows, rate, ready, stop))


# -- the TUI side (this process) --------------------------------------------------------------


@dataclass
class Timings:
    frames: list[float] = field(default_factory=list)
    output: list[float] = field(default_factory=list)
    batches: list[float] = field(default_factory=list)
    keys: list[float] = field(default_factory=list)
    messages: int = 0
    recording: bool = False
    key_sent: float | None = None  # a key is on its way
    key_handled: bool = False  # ... and the table has moved its cursor for it

    def clear(self) -> None:
        for samples in (self.frames, self.output, self.batches, self.keys):
            samples.clear()
        self.messages = 0


TIMINGS = Timings()


def timed(target: list[float], function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if TIMINGS.recording:
                target.append(time.perf_counter() - start)

    return wrapper


def timed_frame(function: Callable[..., Any]) -> Callable[..., Any]:
    """Time Screen._on_timer_update, and close a key's round trip at the frame that shows it."""

    def wrapper(screen: Screen) -> Any:
        result = timed(TIMINGS.frames, function)(screen)
        if TIMINGS.key_sent is not None and TIMINGS.key_handled:
            TIMINGS.keys.append(time.perf_counter() - TIMINGS.key_sent)
            TIMINGS.key_sent, TIMINGS.key_handled = None, False
        return result

    return wrapper


def key_seen(function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(table: RequestTable, step: int) -> Any:
        TIMINGS.key_handled = TIMINGS.key_sent is not None
        return function(table, step)

    return wrapper


class BenchApp(LiveTokenApp):
    def on_mount(self) -> None:
        receive = self.feed.receive

        def counting(message: Any) -> None:
            TIMINGS.messages += TIMINGS.recording
            receive(message)

        self.feed.receive = counting  # type: ignore[method-assign]
        # No super().on_mount(): Textual calls every class's on_mount in the MRO by itself.

    def apply(self, batch: Batch) -> Changes:
        return timed(TIMINGS.batches, super().apply)(batch)

    def _display(self, screen: Screen, renderable: Any) -> None:
        # Headless mode skips turning the frame into terminal bytes; a real terminal pays for it.
        if isinstance(renderable, CompositorUpdate):
            timed(TIMINGS.output, renderable.render_segments)(self.console)
        super()._display(screen, renderable)


async def drive(path: str, rows: int, seconds: float) -> dict[str, Any]:
    # A frame is one Screen._on_timer_update: layout if needed, render dirty widgets, composite.
    Screen._on_timer_update = timed_frame(Screen._on_timer_update)  # type: ignore[method-assign]
    RequestTable.action_cursor = key_seen(RequestTable.action_cursor)  # type: ignore[method-assign]
    app = BenchApp(path)
    async with app.run_test(size=(160, 50)) as pilot:
        started = time.perf_counter()
        while len(app.store) < rows:
            await pilot.pause(0.05)
        fill_s = time.perf_counter() - started
        await pilot.pause(1.0)  # let the first full render settle
        TIMINGS.clear()
        TIMINGS.recording = True
        wall0, cpu0 = time.perf_counter(), time.process_time()
        while time.perf_counter() - wall0 < seconds:
            await asyncio.sleep(0.5)
            TIMINGS.key_sent, TIMINGS.key_handled = time.perf_counter(), False
            app.post_message(events.Key("down", None))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        TIMINGS.recording = False
        shown = len(app.store)
    return {"wall": wall, "cpu": cpu, "fill_s": fill_s, "rows_end": shown}


def describe(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: none"
    ms = [v * 1000 for v in values]
    return (
        f"{name}: n={len(ms)}  p50 {percentile(ms, 50):.2f} ms  p95 {percentile(ms, 95):.2f} ms  "
        f"max {max(ms):.2f} ms"
    )


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, Textual {textual.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50, help="record updates a second")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="lt-tui-bench-", dir="/tmp")
    path = os.path.join(folder, "feed.sock")
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    child = context.Process(target=publisher_process, args=(path, args.rows, args.rate, ready, stop))
    child.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the publisher did not start")
        result = asyncio.run(drive(path, args.rows, args.seconds))
    finally:
        stop.set()
        child.join(10)
        shutil.rmtree(folder, ignore_errors=True)

    wall = result["wall"]
    print(f"machine: {machine()}")
    print(
        f"load: {args.rows} rows, then {args.rate:g} updates/s for {wall:.1f} s "
        f"({TIMINGS.messages} updates received, {result['rows_end']} rows at the end)"
    )
    print(f"{args.rows} rows received and shown after {result['fill_s'] * 1000:.0f} ms")
    print(f"CPU share (TUI process): {100 * result['cpu'] / wall:.1f}% of one core")
    print(f"frames: {len(TIMINGS.frames)} in {wall:.1f} s = {len(TIMINGS.frames) / wall:.1f}/s")
    print(describe("frame time (layout + render + composite)", TIMINGS.frames))
    print(describe("terminal output per frame", TIMINGS.output))
    print(describe("batch apply (store, table, summary)", TIMINGS.batches))
    print(f"batches: {len(TIMINGS.batches) / wall:.1f}/s")
    print(describe("key latency (down, to the frame showing it)", TIMINGS.keys))


if __name__ == "__main__":
    main()
