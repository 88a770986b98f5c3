"""The summary strip: totals over every request since the app started (or the last clear)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui import format as fmt
from tui.aggregate import Totals

Pair = tuple[str, str, str]  # label, value, style of the value


def summary_pairs(totals: Totals) -> tuple[list[Pair], list[Pair]]:
    """Counts first, then tokens and speed: a narrow terminal shows them as two lines."""
    approx = "~" if totals.estimated else ""
    cached = fmt.percent(totals.cache_read_tokens, totals.input_tokens)
    counts: list[Pair] = [
        ("requests", str(totals.requests), "bold"),
        ("in flight", str(totals.in_flight), "bold cyan" if totals.in_flight else "bold"),
        ("errors", str(totals.errors), "bold red" if totals.errors else "bold"),
    ]
    if totals.aborted:
        counts.append(("aborted", str(totals.aborted), "bold yellow"))
    figures: list[Pair] = [
        ("in", approx + fmt.tokens(totals.input_tokens) + (f" ({cached} cached)" if cached else ""), "bold"),
        ("out", approx + fmt.tokens(totals.output_tokens), "bold"),
        (
            "TTFT p50/p95",
            f"{fmt.millis(totals.ttft_p50_ms) or '-'}/{fmt.millis(totals.ttft_p95_ms) or '-'}",
            "bold",
        ),
        ("tok/s p50", fmt.rate(totals.median_tokens_per_s), "bold"),
        (
            "cost",
            (approx if totals.cost_usd else "") + fmt.usd(totals.cost_usd, totals.unpriced),
            "bold green",
        ),
    ]
    return counts, figures


def _line(pairs: list[Pair]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for label, value, style in pairs:
        if text:
            text.append("  ")
        text.append(f"{label} ", style="dim")  # labels dim so the numbers stand out
        text.append(value or "-", style=style)
    return text


def summary_text(totals: Totals, since: str, width: int = 0) -> Text:
    counts, figures = summary_pairs(totals)
    since_pair = ("since", since, "dim")
    line = _line([*counts, *figures, since_pair])
    if not width or line.cell_len <= width:
        return line
    return Text("\n").join([_line([*counts, since_pair]), _line(figures)])


class SummaryStrip(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[Totals, str] | None = None
        self._lines = 0

    def show(self, totals: Totals, since: str) -> None:
        self._shown = (totals, since)
        self._draw()

    def on_resize(self) -> None:
        self._draw()  # the width decides between one line and two

    def _draw(self) -> None:
        if self._shown is None:
            return
        text = summary_text(*self._shown, width=self.content_region.width)
        # Re-layout the screen only when the line count changes, not on every update.
        lines = text.plain.count("\n") + 1
        self.update(text, layout=lines != self._lines)
        self._lines = lines
