"""Overhead benchmark: mitmdump + livetoken_addon.py against mitmdump + a no-op streaming addon.

    uv run python scripts/bench.py                 # 1, 20 and 100 concurrent streams, 5 rounds
    uv run python scripts/bench.py --concurrency 20 --rounds 3 --chunks 200 --interval-ms 20

Both proxies run side by side in reverse mode in front of the same fake upstream; rounds
alternate which one goes first. A live feed subscriber (`livetoken tail`) is attached to the
LiveToken proxy. A direct run without any proxy gives the floor. For every content chunk the
upstream writes its send time into the event; the client notes when the chunk arrives:

- lag: client receive time minus upstream send time, per chunk (median, p99), in ms;
- CPU: the proxy's CPU seconds per 1,000 chunks, all threads (from /proc/PID/task/*/schedstat).

Figures are medians over rounds. Machines here are shared and noisy: compare the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.proxy import FakeUpstreamProcess, Mitmdump, free_port, port_open, wait_until  # noqa: E402

STAMP = re.compile(rb'(?:"text"|"content"|"delta"):"(\d{10}\.\d{6})"')


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads, in seconds, at nanosecond resolution (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that just ended
    return total / 1e9


async def one_stream(port: int, path: str, fake: str, lags: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b'{"model":"bench","stream":true,"stream_options":{"include_usage":true}}'
    writer.write(
        b"POST %s HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"x-fake: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
        % (path.encode(), fake.encode(), len(body), body)
    )
    await writer.drain()
    tail = b""
    seen = 0
    while data := await reader.read(65536):
        now = time.time()
        buf = tail + data
        end = 0
        for match in STAMP.finditer(buf):
            lags.append((now - float(match.group(1))) * 1000.0)
            seen += 1
            end = match.end()
        tail = buf[max(end, len(buf) - 64) :]
    writer.close()
    return seen


async def load(port: int, concurrency: int, chunks: int, interval_ms: float) -> tuple[list[float], int]:
    lags: list[float] = []
    paths = ["/v1/messages", "/v1/chat/completions", "/v1/responses"]
    fake = f"tokens={chunks};interval_ms={interval_ms};stamp=1"
    counts = await asyncio.gather(*(one_stream(port, paths[i % 3], fake, lags) for i in range(concurrency)))
    return lags, sum(counts)


@dataclass
class Series:
    lag_p50: list[float] = field(default_factory=list)
    lag_p99: list[float] = field(default_factory=list)
    cpu_per_1k: list[float] = field(default_factory=list)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def run_round(
    name: str, port: int, pid: int | None, args, concurrency: int, series: dict[str, Series]
) -> None:
    before = cpu_seconds(pid) if pid else 0.0
    lags, seen = asyncio.run(load(port, concurrency, args.chunks, args.interval_ms))
    after = cpu_seconds(pid) if pid else 0.0
    expected = concurrency * args.chunks
    if seen != expected:
        print(f"  warning: {name} delivered {seen} of {expected} chunks", file=sys.stderr)
    s = series.setdefault(name, Series())
    s.lag_p50.append(p(lags, 50))
    s.lag_p99.append(p(lags, 99))
    if pid:
        s.cpu_per_1k.append((after - before) / seen * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lt-bench-", dir="/tmp"))
    upstream = FakeUpstreamProcess()
    env = {"OPENAI_BASE_URL": f"{upstream.url}/v1", "ENABLE_CONSOLE": "false"}
    # Same flags for both proxies: quiet (no per-flow log lines) and lazy upstream connections,
    # which the LiveToken addon sets for itself.
    livetoken = Mitmdump(
        upstream.url, tmp / "feed.sock", tmp / "livetoken.log", env=env, extra_args=("-q",)
    ).wait_ready()
    noop_port = free_port()
    noop = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mitmdump"),
            "-q",
            "-s",
            "scripts/noop_stream_addon.py",
            "--listen-host",
            "127.0.0.1",
            "--set",
            "connection_strategy=lazy",
            "--mode",
            f"reverse:{upstream.url}@{noop_port}",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The noop proxy has no OpenAI routing: every path goes to the same fake upstream anyway.
    subscriber = subprocess.Popen(
        [str(Path(sys.executable).parent / "livetoken"), "tail", "--socket", str(tmp / "feed.sock")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: port_open(noop_port), 30, "the no-op proxy")
    time.sleep(1)  # let the subscriber connect
    try:
        print(
            f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; {args.chunks} chunks per stream every {args.interval_ms} ms"
        )
        for concurrency in args.concurrency:
            series: dict[str, Series] = {}
            for r in range(args.rounds):
                order = [("noop", noop_port, noop.pid), ("livetoken", livetoken.port, livetoken.proc.pid)]
                if r % 2:
                    order.reverse()
                for name, port, pid in [*order, ("direct", upstream.port, None)]:
                    run_round(name, port, pid, args, concurrency, series)
            report(concurrency, series)
    finally:
        subscriber.terminate()
        noop.terminate()
        livetoken.stop()
        upstream.stop()


def report(concurrency: int, series: dict[str, Series]) -> None:
    med = statistics.median
    print(f"\n{concurrency} concurrent streams ({len(series['noop'].lag_p50)} rounds, medians)")
    print(f"  {'':10} {'lag p50 ms':>11} {'lag p99 ms':>11} {'CPU s/1k chunks':>16}")
    for name in ("direct", "noop", "livetoken"):
        s = series[name]
        cpu = f"{med(s.cpu_per_1k):16.4f}" if s.cpu_per_1k else f"{'-':>16}"
        print(f"  {name:10} {med(s.lag_p50):11.3f} {med(s.lag_p99):11.3f} {cpu}")
    lt, no = series["livetoken"], series["noop"]
    cpu_ratios = [a / b for a, b in zip(lt.cpu_per_1k, no.cpu_per_1k, strict=True) if b]
    added_p50 = [a - b for a, b in zip(lt.lag_p50, no.lag_p50, strict=True)]
    added_p99 = [a - b for a, b in zip(lt.lag_p99, no.lag_p99, strict=True)]
    rounds = ", ".join(f"{r:.3f}" for r in cpu_ratios)
    print(
        f"  livetoken vs noop: CPU x{med(cpu_ratios):.3f} (rounds: {rounds}); "
        f"added lag p50 {med(added_p50):+.3f} ms, p99 {med(added_p99):+.3f} ms"
    )


if __name__ == "__main__":
    main()
