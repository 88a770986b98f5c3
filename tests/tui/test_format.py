"""Number formatting: compact, blank when unknown, estimated counts marked."""

from __future__ import annotations

import pytest

from tui import format as fmt


@pytest.mark.parametrize(
    ("value", "estimated", "text"),
    [
        (None, False, ""),
        (0, False, "0"),
        (842, False, "842"),
        (1234, False, "1.2k"),
        (1234, True, "~1.2k"),
        (12_345, False, "12.3k"),
        (123_456, False, "123k"),
        (2_500_000, False, "2.5M"),
        (999, True, "~999"),
    ],
)
def test_tokens(value: int | None, estimated: bool, text: str) -> None:
    assert fmt.tokens(value, estimated) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0.4, "0ms"),
        (850, "850ms"),
        (1250, "1.25s"),
        (12_340, "12.3s"),
        (125_000, "2m05s"),
    ],
)
def test_millis(value: float | None, text: str) -> None:
    assert fmt.millis(value) == text


def test_rate_percent_clock() -> None:
    assert (fmt.rate(None), fmt.rate(48.26), fmt.rate(4460.2)) == ("", "48.3", "4460")
    assert (fmt.percent(None, 10), fmt.percent(3, 0), fmt.percent(1, 4)) == ("", "", "25%")
    assert fmt.clock(1735787045.0) == "03:04:05"  # TZ=UTC (conftest)
    assert fmt.stamp(1735787045.25) == "2025-01-02 03:04:05.250"
    assert fmt.clock(1e300) == ""  # absurd timestamps blank out instead of raising
