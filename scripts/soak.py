"""Fault soak: many concurrent clients through a real mitmdump with the LiveToken addon.

    uv run python scripts/soak.py                        # 10,000 requests, 50 at a time
    uv run python scripts/soak.py --requests 300 --concurrency 20   # the size CI runs

A share of clients hang up mid-stream or give up on a stalled upstream; a share of upstream
responses reset, stall, send malformed, truncated or corrupt-compressed streams, error mid-stream
or answer 429. A live subscriber reads the feed and a second one connects and never reads.

Checked (exit status 1 if any fails): every request ends with exactly one final record, nothing
lost and nothing doubled; the proxy is alive at the end and logged no internal error; the reading
subscriber was never dropped. Reported: requests, final records, records per state, proxy errors,
proxy memory (RSS) over time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import re
import socket
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metrics.feed import FeedError, iter_feed  # noqa: E402
from metrics.record import FINAL_STATES  # noqa: E402
from tests.proxy import FakeUpstreamProcess, proxy_for  # noqa: E402

PATHS = ["/v1/messages", "/v1/chat/completions", "/v1/responses"]
# (share, name, x-fake options, what the client does)
MIX = [
    (50, "normal", "", "read"),
    (8, "client_hangup", "", "hangup"),
    (5, "upstream_stall", "fault=stall;stall_s=3", "timeout"),
    (6, "upstream_reset", "fault=reset", "read"),
    (6, "malformed", "fault=malformed", "read"),
    (6, "truncated", "fault=truncate", "read"),
    (5, "corrupt_gzip", "fault=corrupt_encoding", "read"),
    (7, "error_event", "fault=error_event", "read"),
    (7, "rate_limited", "status=429", "read"),
]
INTERNAL_ERROR = re.compile(r"internal error|Traceback|error in script|Unhandled error")


class FeedCounter(threading.Thread):
    """Counts final records per request id, as any script would from the feed."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.finals: collections.Counter[str] = collections.Counter()
        self.states: collections.Counter[str] = collections.Counter()
        self.outcomes: collections.Counter[str] = collections.Counter()  # "kind state error_type"
        self.messages = 0
        self.disconnected = False
        self.started = threading.Event()

    def run(self) -> None:
        try:
            for message in iter_feed(str(self.path)):
                self.started.set()
                self.messages += 1
                if message.get("state") in FINAL_STATES:
                    self.finals[message.get("request_id") or f"no-id:{message['id']}"] += 1
                    self.states[message["state"]] += 1
                    kind = (message.get("model") or "?").removeprefix("soak-")
                    self.outcomes[
                        f"{kind} -> {message['state']} {message.get('error_type') or ''}".strip()
                    ] += 1
        except FeedError:
            pass
        self.disconnected = True


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def one_request(client: httpx.AsyncClient, url: str, rng: random.Random, sent: list[str]) -> str:
    _, kind, fault, action = rng.choices(MIX, weights=[m[0] for m in MIX])[0]
    encoding = rng.choice(["", "", "gzip", "br", "zstd"]) if kind not in ("corrupt_gzip",) else ""
    options = [f"tokens={rng.randint(5, 60)}", f"interval_ms={rng.choice([0, 1, 2, 5])}"]
    options += [o for o in (fault, f"encoding={encoding}" if encoding else "") if o]
    path = rng.choice(PATHS)
    body = {"model": f"soak-{kind}", "stream": True, "stream_options": {"include_usage": True}}
    timeout = httpx.Timeout(1.0 if action == "timeout" else 30.0)
    try:
        async with client.stream(
            "POST", url + path, json=body, headers={"x-fake": ";".join(options)}, timeout=timeout
        ) as response:
            sent.append(response.headers.get("request-id", ""))
            received = 0
            async for piece in response.aiter_raw():
                received += len(piece)
                if action == "hangup" and received > 200:
                    break  # leaving the block closes the connection mid-stream
    except httpx.HTTPError:
        pass  # resets, truncations and timeouts are the point
    return kind


async def drive(
    url: str, total: int, concurrency: int, seed: int, sent: list[str]
) -> collections.Counter[str]:
    rng = random.Random(seed)
    kinds: collections.Counter[str] = collections.Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            queue.get_nowait()
            kinds[await one_request(client, url, rng, sent)] += 1

    async with httpx.AsyncClient(limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--history", type=int, default=100, help="MAX_HISTORY for the proxy")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args()

    upstream = FakeUpstreamProcess()
    env = {"MAX_HISTORY": str(args.history), "ENABLE_CONSOLE": "false"}
    proxy = proxy_for(upstream, "lt-soak-", env=env, extra_args=("-q",)).wait_ready()
    counter = FeedCounter(proxy.socket_path)
    counter.start()
    counter.started.wait(10)
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(proxy.socket_path))  # never reads

    memory: list[tuple[float, int]] = [(0.0, rss_kib(proxy.proc.pid))]
    done = threading.Event()

    def sample() -> None:
        start = time.monotonic()
        while not done.wait(1.0):
            memory.append((time.monotonic() - start, rss_kib(proxy.proc.pid)))

    threading.Thread(target=sample, daemon=True).start()
    sent: list[str] = []
    started = time.monotonic()
    kinds = asyncio.run(drive(proxy.url, args.requests, args.concurrency, args.seed, sent))
    elapsed = time.monotonic() - started
    # Let the last records arrive (stalled upstreams are cut off by their clients, not waited for).
    deadline = time.monotonic() + 30
    while sum(counter.finals.values()) < args.requests and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    done.set()
    memory.append((elapsed, rss_kib(proxy.proc.pid)))
    alive = proxy.proc.poll() is None
    # A fresh subscriber's hello says how many requests the proxy still tracks: none should leak.
    in_flight = next(iter_feed(str(proxy.socket_path), timeout=5)).get("in_flight") if alive else None
    reader_dropped = counter.disconnected
    log = proxy.log()  # before stop(): its folder goes with it
    proxy.stop()
    upstream.stop()
    stuck.close()
    errors = [line for line in log.splitlines() if INTERNAL_ERROR.search(line)]

    doubled = {rid: n for rid, n in counter.finals.items() if n > 1}
    missing = [rid for rid in sent if rid and counter.finals[rid] == 0]
    finals = sum(counter.finals.values())
    warm = memory[min(len(memory) - 1, max(1, len(memory) // 10))][1]
    report = {
        "requests_sent": args.requests,
        "final_records": finals,
        "records_per_state": dict(counter.states),
        "requests_per_kind": dict(kinds),
        "outcomes": dict(sorted(counter.outcomes.items())),
        "doubled": len(doubled),
        "missing": len(missing),
        "proxy_alive": alive,
        "in_flight_at_end": in_flight,
        "proxy_errors": len(errors),
        "reader_dropped": reader_dropped,
        "feed_messages_read": counter.messages,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(args.requests / elapsed, 1),
        "rss_kib_start": memory[0][1],
        "rss_kib_after_warmup": warm,
        "rss_kib_end": memory[-1][1],
        "rss_kib_growth_after_warmup": memory[-1][1] - warm,
        "rss_kib_samples": [kib for _, kib in memory[:: max(1, len(memory) // 20)]],
    }
    ok = (
        finals == args.requests
        and not doubled
        and not missing
        and alive
        and not errors
        and not report["reader_dropped"]
        and in_flight == 0
    )
    report["ok"] = ok
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:28} {value}")
        for line in errors[:10]:
            print("  proxy:", line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
