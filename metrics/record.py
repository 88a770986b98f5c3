"""The one record type shared by the addon, the feed, the TUI and scripts (DESIGN.md, schema 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = 1

PENDING = "pending"
STREAMING = "streaming"
DONE = "done"
ERROR = "error"
ABORTED = "aborted"
FINAL_STATES = frozenset({DONE, ERROR, ABORTED})


@dataclass(slots=True)
class Record:
    id: str
    state: str = PENDING
    provider: str = "unknown"
    api: str = "other"
    method: str | None = None
    path: str | None = None
    status: int | None = None
    stream: bool | None = None
    model: str | None = None
    started_at: float | None = None
    ttfb_ms: float | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    output_tokens_per_s: float | None = None
    tpot_ms: float | None = None
    itl_p50_ms: float | None = None
    itl_p95_ms: float | None = None
    itl_max_ms: float | None = None
    chunks: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    tokens_estimated: bool = False
    cost_usd: float | None = None  # from genai-prices; estimated when tokens_estimated is
    stop_reason: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    request_id: str | None = None
    rate_limits: dict[str, str] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose (asdict deep-copies, and this runs for every feed message); the one
        # container, rate_limits, is copied so the snapshot cannot change under a subscriber.
        data = {name: getattr(self, name) for name in RECORD_FIELDS}
        data["rate_limits"] = dict(self.rate_limits)
        return data

    def to_message(self) -> dict[str, Any]:
        """The feed message for this record: its fields plus ``type: request``."""
        message = self.to_dict()
        message["type"] = "request"
        return message


RECORD_FIELDS = tuple(Record.__dataclass_fields__)
