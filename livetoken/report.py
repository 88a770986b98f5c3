"""``livetoken report`` and ``livetoken export``: what the history database holds."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from metrics.history import HistoryError, connect, default_db_path, read
from metrics.record import DONE, RECORD_FIELDS
from metrics.stats import percentile

REPORT_KEYS = (
    "group",
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "output_tokens_per_s_median",
)
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """``24h``, ``7d``, ``90m`` back from now, or a date / date-time (local time); None for all."""
    if not text:
        return None
    now = time.time() if now is None else now
    if match := _SPAN.match(text.strip()):
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        return dt.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"--since takes 24h, 7d, 30m or a date such as 2026-12-01, not {text!r}") from None


GROUPERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "model": lambda r: r["model"] or "(unknown)",
    "provider": lambda r: r["provider"] or "unknown",
    "day": lambda r: dt.datetime.fromtimestamp(r["started_at"] or 0).strftime("%Y-%m-%d"),
    "hour": lambda r: dt.datetime.fromtimestamp(r["started_at"] or 0).strftime("%Y-%m-%d %H:00"),
}


def summarise(records: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(GROUPERS[by](record), []).append(record)
    return [_row(name, rows) for name, rows in sorted(groups.items())]


def _row(group: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def total(field: str) -> int:
        return sum(r[field] or 0 for r in rows)

    costs = [r["cost_usd"] for r in rows]
    ttfts = [r["ttft_ms"] for r in rows if r["ttft_ms"] is not None]
    speeds = [r["output_tokens_per_s"] for r in rows if r["output_tokens_per_s"] is not None]
    return {
        "group": group,
        "requests": len(rows),
        "errors": sum(1 for r in rows if r["state"] != DONE),
        "input_tokens": total("input_tokens"),
        "output_tokens": total("output_tokens"),
        "cache_read_tokens": total("cache_read_tokens"),
        "cache_write_tokens": total("cache_write_tokens"),
        # One request without a price makes the total unknown, not smaller.
        "cost_usd": None if any(c is None for c in costs) else round(sum(costs), 8),
        "ttft_p50_ms": _round(percentile(ttfts, 50)),
        "ttft_p95_ms": _round(percentile(ttfts, 95)),
        "output_tokens_per_s_median": _round(statistics.median(speeds) if speeds else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def load(db_path: str | None, since: float | None) -> list[dict[str, Any]] | None:
    """The records, or None when there is no database yet."""
    try:
        db = connect(db_path or default_db_path(), create=False)
    except HistoryError as exc:
        if "no history database" in str(exc):
            return None
        raise
    try:
        return read(db, since=since)
    finally:
        db.close()


def print_table(rows: list[dict[str, Any]], by: str, out: TextIO) -> None:
    headers = [
        by,
        "requests",
        "errors",
        "input",
        "output",
        "cache read",
        "cache write",
        "cost $",
        "TTFT p50",
        "TTFT p95",
        "tok/s p50",
    ]
    lines = [
        [
            r["group"],
            str(r["requests"]),
            str(r["errors"]),
            f"{r['input_tokens']:,}",
            f"{r['output_tokens']:,}",
            f"{r['cache_read_tokens']:,}",
            f"{r['cache_write_tokens']:,}",
            "-" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}",
            _ms(r["ttft_p50_ms"]),
            _ms(r["ttft_p95_ms"]),
            "-" if r["output_tokens_per_s_median"] is None else f"{r['output_tokens_per_s_median']:.1f}",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    for line in [headers, *lines]:
        out.write(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
            + "\n"
        )


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f}s" if value >= 1000 else f"{value:.0f}ms"


def report(db_path: str | None, since_text: str | None, by: str, fmt: str, out: TextIO = sys.stdout) -> int:
    since = parse_since(since_text)
    records = load(db_path, since)
    rows = summarise(records or [], by)
    if fmt == "json":
        out.write(json.dumps(rows, indent=2) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=REPORT_KEYS)
        writer.writeheader()
        writer.writerows(rows)
    elif rows:
        print_table(rows, by, out)
    if not rows:
        where = db_path or default_db_path()
        note = "no history database yet" if records is None else "no requests recorded"
        span = f" since {since_text}" if since_text else ""
        print(f"livetoken report: {note}{span} ({where})", file=sys.stderr)
    return 0


def export(db_path: str | None, since_text: str | None, fmt: str, out: TextIO = sys.stdout) -> int:
    records = load(db_path, parse_since(since_text))
    if not records:
        note = "no history database yet" if records is None else "no requests recorded"
        print(f"livetoken export: {note} ({db_path or default_db_path()})", file=sys.stderr)
        records = []
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=RECORD_FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow(
                {**record, "rate_limits": json.dumps(record["rate_limits"]) if record["rate_limits"] else ""}
            )
    else:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0
