"""Drive a RequestTracker with bytes and a scripted clock, as the addon does with real traffic."""

from __future__ import annotations

from collections.abc import Iterable

from metrics.estimate import TokenEstimator
from metrics.record import Record
from metrics.tracker import RequestTracker


def new_tracker(
    api: str, provider: str = "anthropic", request_body: bytes | None = None, model: str | None = None
) -> RequestTracker:
    record = Record(
        id="r1",
        provider=provider,
        api=api,
        method="POST",
        path="/v1/x",
        model=model,
        started_at=1_700_000_000.0,
    )
    return RequestTracker(record, t0=100.0, request_body=request_body)


def stream_record(
    api: str,
    chunks: Iterable[bytes],
    *,
    headers: dict[str, str] | None = None,
    status: int = 200,
    t_headers: float = 100.05,
    step: float = 0.01,
    estimator: TokenEstimator | None = None,
    provider: str = "anthropic",
    request_body: bytes | None = None,
) -> tuple[Record, RequestTracker]:
    """Feed SSE chunks arriving every ``step`` seconds after the headers; return the final record."""
    tracker = new_tracker(api, provider, request_body)
    tracker.on_response_headers(status, {"content-type": "text/event-stream", **(headers or {})}, t_headers)
    now = t_headers
    for chunk in chunks:
        now += step
        tracker.on_chunk(chunk, now)
    now += step
    tracker.on_stream_end(now)
    return tracker.finish(now, estimator), tracker


def body_record(
    api: str,
    body: bytes,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    provider: str = "anthropic",
) -> Record:
    tracker = new_tracker(api, provider)
    tracker.on_response_headers(status, {"content-type": "application/json", **(headers or {})}, 100.2)
    tracker.on_body(body)
    return tracker.finish(100.3)


def split(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]
