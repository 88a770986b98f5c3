"""Compact number formatting for the dashboard: short enough for a table cell, blank when unknown.

Every function takes ``None`` (a value the feed does not know) and returns ``""`` for it, so a
record with missing fields renders as blanks instead of raising.
"""

from __future__ import annotations

import time

BLANK = ""


def tokens(value: int | None, estimated: bool = False) -> str:
    """1234 → ``1.2k``; estimated counts get a ``~`` so nobody mistakes them for billed usage."""
    if value is None:
        return BLANK
    text = _si(value)
    return f"~{text}" if estimated else text


def _si(value: float) -> str:
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            scaled = value / limit
            # Three significant digits at most: 1.2k, 12.3k, 123k.
            return f"{scaled:.1f}{suffix}" if abs(scaled) < 100 else f"{scaled:.0f}{suffix}"
    return f"{value:.0f}"


def millis(value: float | None) -> str:
    """A latency or duration: ``850ms``, ``1.25s``, ``12.3s``, ``2m05s``."""
    if value is None:
        return BLANK
    if abs(value) < 1000:
        return f"{value:.0f}ms"
    seconds = value / 1000
    if abs(seconds) < 10:
        return f"{seconds:.2f}s"
    if abs(seconds) < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def rate(value: float | None) -> str:
    """Tokens per second: one decimal while it is small enough to matter."""
    if value is None:
        return BLANK
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def percent(part: float | None, whole: float | None) -> str:
    """``part`` as a share of ``whole``; blank when the share is undefined."""
    if part is None or not whole:
        return BLANK
    return f"{100 * part / whole:.0f}%"


def clock(timestamp: float | None) -> str:
    """Wall-clock seconds as local ``HH:MM:SS`` (the table's time column)."""
    if timestamp is None:
        return BLANK
    try:
        return time.strftime("%H:%M:%S", time.localtime(timestamp))
    except (OverflowError, OSError, ValueError):
        return BLANK  # a timestamp from nowhere near this century


def stamp(timestamp: float | None) -> str:
    """Wall-clock seconds as a full local date and time with milliseconds (detail view)."""
    text = clock(timestamp)
    if not text or timestamp is None:
        return text
    day = time.strftime("%Y-%m-%d", time.localtime(timestamp))
    return f"{day} {text}.{int(timestamp * 1000) % 1000:03d}"


def usd(value: float | None, unpriced: int = 0) -> str:
    """``$0.0123``; ``+?`` when some requests had no price (so the figure is a lower bound)."""
    if value is None or (value == 0 and unpriced):
        return "?" if unpriced else ""
    text = f"${value:.4f}" if value < 10 else f"${value:,.2f}"
    return text + ("+?" if unpriced else "")
