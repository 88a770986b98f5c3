"""How a final record maps onto the OpenTelemetry GenAI metric conventions.

Both exporters (``metrics/prometheus.py`` and ``metrics/otel.py``) read records through this one
module, so a Prometheus scrape and an OTLP collector always see the same numbers under the same
names. Names, attributes and bucket boundaries follow the GenAI semantic conventions
(docs/gen-ai/gen-ai-metrics.md in open-telemetry/semantic-conventions, v1.37 and later, where
``gen_ai.provider.name`` replaced ``gen_ai.system``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from metrics.record import DONE, FINAL_STATES

# -- metric names, OpenTelemetry spelling (Prometheus spelling lives in metrics/prometheus.py) ------
TOKEN_USAGE = "gen_ai.client.token.usage"
OPERATION_DURATION = "gen_ai.client.operation.duration"
TIME_TO_FIRST_TOKEN = "gen_ai.server.time_to_first_token"
TIME_PER_OUTPUT_TOKEN = "gen_ai.server.time_per_output_token"
REQUESTS = "livetoken.requests"
COST = "livetoken.cost.usd"

# -- attribute keys ------------------------------------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"
# LiveToken's own attributes: the conventions allow system-specific ones beside theirs.
API = "livetoken.api"
STATE = "livetoken.state"
TOKENS_ESTIMATED = "livetoken.tokens_estimated"

# -- bucket boundaries, exactly as the conventions advise (ExplicitBucketBoundaries) -------------
TOKEN_USAGE_BUCKETS: tuple[float, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
OPERATION_DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TIME_TO_FIRST_TOKEN_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
TIME_PER_OUTPUT_TOKEN_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip

# All three LLM APIs LiveToken interprets are chat-style generation: the convention's `chat`.
# Anything else (count_tokens, model listings, HEAD) is no GenAI operation and stays out of the
# gen_ai.* histograms; it is still counted in livetoken.requests.
OPERATIONS = {"messages": "chat", "chat_completions": "chat", "responses": "chat"}

OTHER = "_OTHER"  # the conventions' fallback value; also where over-limit label values go
MAX_MODELS = 100  # model names come from clients: bound the series a typo loop can create
MAX_ERROR_TYPES = 50
MAX_VALUE_CHARS = 128


class ValueLimiter:
    """Passes through the first ``limit`` distinct values and maps every later newcomer to _OTHER.

    Each distinct label value is a new time series in Prometheus and in a collector; values that
    clients choose (model names) must not be able to grow them without bound.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


@dataclass(frozen=True, slots=True)
class Observation:
    """What one final record contributes to the exported metrics; None means "not known"."""

    provider: str
    api: str
    state: str
    operation: str | None  # None: not a GenAI operation (api "other")
    model: str | None
    error_type: str | None  # None exactly when the request succeeded
    duration_s: float | None
    ttft_s: float | None
    tpot_s: float | None
    input_tokens: int | None
    output_tokens: int | None
    tokens_estimated: bool
    cost_usd: float | None


class Mapper:
    """Turns final records into Observations, with bounded label values. Not thread-safe: the
    exporters call it from the proxy's event loop only."""

    def __init__(self) -> None:
        self._models = ValueLimiter(MAX_MODELS)
        self._error_types = ValueLimiter(MAX_ERROR_TYPES)

    def observe(self, record: Any) -> Observation | None:
        """The record's observation, or None when it is not final (only final records count)."""
        state = _text(getattr(record, "state", None))
        if state not in FINAL_STATES:
            return None
        api = _text(getattr(record, "api", None)) or "other"
        model = _text(getattr(record, "model", None))
        error_type = None
        if state != DONE:
            # error.type is required on failures; the conventions' fallback covers a missing one.
            error_type = self._error_types(_text(getattr(record, "error_type", None)) or OTHER)
        return Observation(
            provider=_text(getattr(record, "provider", None)) or "unknown",
            api=api,
            state=state,
            operation=OPERATIONS.get(api),
            model=self._models(model) if model else None,
            error_type=error_type,
            duration_s=_seconds(getattr(record, "duration_ms", None)),
            ttft_s=_seconds(getattr(record, "ttft_ms", None)),
            tpot_s=_seconds(getattr(record, "tpot_ms", None)),
            input_tokens=_count(getattr(record, "input_tokens", None)),
            output_tokens=_count(getattr(record, "output_tokens", None)),
            tokens_estimated=getattr(record, "tokens_estimated", False) is True,
            # cost_usd arrives with issue 6's pricing; records from before it simply have none.
            cost_usd=_amount(getattr(record, "cost_usd", None)),
        )


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value[:MAX_VALUE_CHARS]


def _number(value: Any) -> float | None:
    """A finite, non-negative real, else None (bool is an int in Python, but never a quantity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _seconds(milliseconds: Any) -> float | None:
    value = _number(milliseconds)
    return None if value is None else value / 1000.0


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _amount(value: Any) -> float | None:
    return _number(value)


class Exporter:
    """What both exporters share: map a final record once, record it, never raise into the proxy."""

    label = "exporter"
    _closed = False

    def __init__(self) -> None:
        self._mapper = Mapper()
        self._failures = 0

    def observe(self, record: Any) -> None:
        """Take one final record (non-final ones are ignored). Cheap, and never raises."""
        if self._closed:
            return
        try:
            observation = self._mapper.observe(record)
            if observation is not None:
                self._record(observation)
        except Exception:  # a metrics bug must never reach the proxy's event loop
            self._failures += 1
            if self._failures == 1:
                logging.getLogger(type(self).__module__).exception(
                    "%s: could not record a request (reported once)", self.label
                )

    def _record(self, obs: Observation) -> None:
        raise NotImplementedError
