"""The one-line summary of a finished request for the proxy's log."""

from __future__ import annotations

from metrics.record import DONE, Record


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f}s" if value >= 10_000 else f"{value:.0f}ms"


def _tokens(value: int | None, estimated: bool) -> str:
    if value is None:
        return "-"
    return f"~{value:,}" if estimated else f"{value:,}"


def summary_line(record: Record) -> str:
    outcome = "ok" if record.state == DONE else record.state
    if record.error_type:
        outcome += f" {record.error_type}"
    speed = "-" if record.output_tokens_per_s is None else f"{record.output_tokens_per_s:.1f}"
    tokens_in = _tokens(record.input_tokens, record.tokens_estimated)
    if record.cache_read_tokens:
        tokens_in += f" (cache {record.cache_read_tokens:,})"
    return (
        f"livetoken {outcome} {record.provider}/{record.api} {record.model or '-'} "
        f"status={record.status if record.status is not None else '-'} "
        f"ttft={_ms(record.ttft_ms)} tok/s={speed} "
        f"in={tokens_in} out={_tokens(record.output_tokens, record.tokens_estimated)} "
        f"time={_ms(record.duration_ms)}"
    )
