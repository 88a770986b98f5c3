"""How far LiveToken's ttft_ms lies from the upstream's own clock, with 1 and 100 concurrent streams.

    uv run python scripts/ttft_accuracy.py [--concurrency 1 100] [--pause-ms 300]

Each stream's preamble (message_start, ping, the role chunk …) goes out at once and its first
token ``--pause-ms`` later. The fake upstream notes when it received the request and when it
sent the first token; the error is ``ttft_ms - (first_token_sent - request_received)``. It is
never negative in principle: t0 is taken before the proxy forwards the request.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.proxy import FakeUpstreamProcess, FeedReader, Mitmdump, proxy_for  # noqa: E402

PATHS = ["/v1/messages", "/v1/chat/completions", "/v1/responses"]


async def streams(url: str, n: int, pause_ms: float) -> list[str]:
    async def one(client: httpx.AsyncClient, i: int) -> str:
        body = {"model": "ttft", "stream": True}
        async with client.stream(
            "POST",
            url + PATHS[i % 3],
            json=body,
            headers={"x-fake": f"tokens=20;interval_ms=5;pause_ms={pause_ms}"},
        ) as r:
            async for _ in r.aiter_raw():
                pass
            return r.headers["request-id"]

    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(n))))


def measure(
    proxy: Mitmdump, upstream: FakeUpstreamProcess, feed: FeedReader, n: int, pause_ms: float
) -> list[float]:
    """TTFT errors in ms (record minus upstream), one per stream."""
    ids = asyncio.run(streams(proxy.url, n, pause_ms))
    log = {f"req_fake_{e['id']}": e for e in upstream.log()}
    errors = []
    for request_id in ids:
        record = feed.final(request_id)
        sent = log[request_id]
        upstream_ms = (sent["first_content_at"] - sent["received_at"]) * 1000
        errors.append(record["ttft_ms"] - upstream_ms)
    return errors


def summary(errors: list[float]) -> str:
    ordered = sorted(errors)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"median {statistics.median(errors):+.2f} ms, p95 {p95:+.2f} ms, "
        f"min {ordered[0]:+.2f} ms, max {ordered[-1]:+.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--pause-ms", type=float, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="runs at concurrency 1")
    args = parser.parse_args()
    upstream = FakeUpstreamProcess()
    env = {"ENABLE_CONSOLE": "false", "MAX_HISTORY": "1000"}
    proxy = proxy_for(upstream, "lt-ttft-", env=env, extra_args=("-q",)).wait_ready()
    feed = FeedReader(proxy.socket_path)
    try:
        for n in args.concurrency:
            errors: list[float] = []
            for _ in range(args.repeat if n == 1 else 1):
                errors += measure(proxy, upstream, feed, n, args.pause_ms)
            print(f"{n:4} concurrent streams ({len(errors)} streams): ttft_ms - upstream: {summary(errors)}")
    finally:
        proxy.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
