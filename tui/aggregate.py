"""Totals over a set of requests: the summary strip and each row of the per-model view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from metrics.record import ABORTED, DONE, ERROR
from metrics.stats import percentile
from tui.store import Entry

UNKNOWN_MODEL = "(unknown)"


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int = 0
    in_flight: int = 0
    errors: int = 0
    aborted: int = 0
    lost: int = 0  # in flight when the connection dropped; their outcome is unknown
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    estimated: bool = False  # some counts were estimated by the proxy, not reported upstream
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    median_tokens_per_s: float | None = None
    cost_usd: float = 0.0  # over finished requests with a price
    unpriced: int = 0  # finished requests whose model has no price: the cost is a lower bound

    @property
    def error_rate(self) -> float | None:
        finished = self.requests - self.in_flight
        return self.errors / finished if finished else None


def totals(entries: Iterable[Entry]) -> Totals:
    counts = {
        "requests": 0,
        "in_flight": 0,
        "errors": 0,
        "aborted": 0,
        "lost": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
    ttfts: list[float] = []
    speeds: list[float] = []
    estimated = False
    cost, unpriced = 0.0, 0
    for entry in entries:
        record = entry.record
        counts["requests"] += 1
        counts["in_flight"] += entry.in_flight
        counts["errors"] += record.state == ERROR
        counts["aborted"] += record.state == ABORTED
        counts["lost"] += entry.lost
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            counts[name] += getattr(record, name) or 0
        estimated = estimated or (record.tokens_estimated and record.output_tokens is not None)
        if record.ttft_ms is not None:
            ttfts.append(record.ttft_ms)
        if not entry.in_flight and record.input_tokens is not None:
            if record.cost_usd is None:
                unpriced += 1
            else:
                cost += record.cost_usd
        # Speed only from finished requests: a stream's early rate is noisy and still changing.
        if record.output_tokens_per_s is not None and record.state == DONE:
            speeds.append(record.output_tokens_per_s)
    return Totals(
        **counts,
        estimated=estimated,
        ttft_p50_ms=percentile(ttfts, 50),
        ttft_p95_ms=percentile(ttfts, 95),
        median_tokens_per_s=percentile(speeds, 50),
        cost_usd=cost,
        unpriced=unpriced,
    )


def by_model(entries: Iterable[Entry]) -> list[tuple[str, Totals]]:
    """Totals per model, busiest model first."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.record.model or UNKNOWN_MODEL, []).append(entry)
    rows = [(model, totals(group)) for model, group in groups.items()]
    rows.sort(key=lambda row: (-row[1].requests, row[0]))
    return rows
