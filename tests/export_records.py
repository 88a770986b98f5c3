"""Known final records and, computed by hand, what both exporters must report for them.

tests/test_prometheus.py and tests/test_otel.py check their exporter's output against the same
expectations, each through its own spelling of the labels (Series.prometheus / Series.otel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from metrics.record import Record


class _PricedRecord(Record):
    """A Record that takes ``cost_usd`` whether or not Record has grown that field yet (a subclass
    of a slotted dataclass without __slots__ has a __dict__ for it)."""


def record(cost_usd: float | None = None, **fields: Any) -> Record:
    rec = _PricedRecord(**fields)
    rec.cost_usd = cost_usd
    return rec


@dataclass(frozen=True)
class Series:
    """One label set: what a record contributes to a metric is filed under it."""

    provider: str
    api: str
    state: str
    model: str | None = None
    error_type: str | None = None

    @property
    def operation(self) -> str | None:
        return None if self.api == "other" else "chat"

    def prometheus(self) -> dict[str, str]:
        # Every label is always present in Prometheus; "" means "no value".
        return {
            "gen_ai_operation_name": self.operation or "",
            "gen_ai_provider_name": self.provider,
            "gen_ai_request_model": self.model or "",
            "api": self.api,
            "state": self.state,
            "error_type": self.error_type or "",
        }

    def otel(self) -> dict[str, Any]:
        # OTel leaves absent attributes out; error.type only on failures.
        attributes: dict[str, Any] = {
            "gen_ai.provider.name": self.provider,
            "livetoken.api": self.api,
            "livetoken.state": self.state,
        }
        if self.operation:
            attributes["gen_ai.operation.name"] = self.operation
        if self.model:
            attributes["gen_ai.request.model"] = self.model
        if self.error_type:
            attributes["error.type"] = self.error_type
        return attributes


@dataclass(frozen=True)
class Hist:
    count: int
    sum: float
    le: dict[float, int]  # spot checks: cumulative count at these upper bounds


CLAUDE = "claude-sonnet-4-5"
GPT = "gpt-4o-mini"

ANTHROPIC_DONE = Series("anthropic", "messages", "done", CLAUDE)
ANTHROPIC_OVERLOADED = Series("anthropic", "messages", "error", CLAUDE, "overloaded_error")
OPENAI_CHAT_DONE = Series("openai", "chat_completions", "done", GPT)
OPENAI_CHAT_ERROR = Series("openai", "chat_completions", "error", GPT, "_OTHER")
OPENAI_RESPONSES_ABORTED = Series("openai", "responses", "aborted", GPT, "client_disconnected")
OPENAI_MODELS_LIST = Series("openai", "other", "done")

RECORDS = [
    # Anthropic stream: every number known, priced.
    record(
        id="a1", state="done", provider="anthropic", api="messages", model=CLAUDE, stream=True,
        ttft_ms=312.0, tpot_ms=20.0, duration_ms=2400.0, input_tokens=1200, output_tokens=350,
        cost_usd=0.0089,
    ),
    # Anthropic without streaming: no TTFT, no TPOT.
    record(
        id="a2", state="done", provider="anthropic", api="messages", model=CLAUDE, stream=False,
        duration_ms=900.0, input_tokens=50, output_tokens=10, cost_usd=0.0003,
    ),
    # Anthropic overloaded: an error body, no tokens, no price.
    record(
        id="a3", state="error", provider="anthropic", api="messages", model=CLAUDE, status=529,
        error_type="overloaded_error", duration_ms=150.0,
    ),
    # OpenAI chat stream without include_usage: estimated tokens, a model genai-prices lacks.
    record(
        id="o1", state="done", provider="openai", api="chat_completions", model=GPT, stream=True,
        ttft_ms=95.0, tpot_ms=8.0, duration_ms=1200.0, input_tokens=3000, output_tokens=120,
        tokens_estimated=True,
    ),
    # OpenAI Responses stream the client hung up on after 40 tokens.
    record(
        id="o2", state="aborted", provider="openai", api="responses", model=GPT, stream=True,
        ttft_ms=450.0, tpot_ms=15.0, duration_ms=3000.0, input_tokens=800, output_tokens=40,
        tokens_estimated=True, error_type="client_disconnected", cost_usd=0.0002,
    ),
    # A model listing: counted as a request, but no GenAI operation.
    record(id="o3", state="done", provider="openai", api="other", method="GET", duration_ms=80.0),
    # An error nobody named: error.type falls back to the conventions' _OTHER.
    record(
        id="o4", state="error", provider="openai", api="chat_completions", model=GPT,
        duration_ms=30000.0,
    ),
    # Not final: the exporters must ignore it.
    record(
        id="o5", state="streaming", provider="openai", api="chat_completions", model=GPT,
        ttft_ms=50.0, duration_ms=100.0, input_tokens=5, output_tokens=5,
    ),
]  # fmt: skip

INF = math.inf

REQUESTS = {
    ANTHROPIC_DONE: 2,
    ANTHROPIC_OVERLOADED: 1,
    OPENAI_CHAT_DONE: 1,
    OPENAI_CHAT_ERROR: 1,
    OPENAI_RESPONSES_ABORTED: 1,
    OPENAI_MODELS_LIST: 1,
}
COST_USD = {ANTHROPIC_DONE: 0.0092, OPENAI_RESPONSES_ABORTED: 0.0002}

TIME_TO_FIRST_TOKEN = {
    ANTHROPIC_DONE: Hist(1, 0.312, {0.25: 0, 0.5: 1, INF: 1}),
    OPENAI_CHAT_DONE: Hist(1, 0.095, {0.08: 0, 0.1: 1, INF: 1}),
    OPENAI_RESPONSES_ABORTED: Hist(1, 0.45, {0.25: 0, 0.5: 1, INF: 1}),
}
TIME_PER_OUTPUT_TOKEN = {
    ANTHROPIC_DONE: Hist(1, 0.020, {0.01: 0, 0.025: 1}),
    OPENAI_CHAT_DONE: Hist(1, 0.008, {0.01: 1}),
    OPENAI_RESPONSES_ABORTED: Hist(1, 0.015, {0.01: 0, 0.025: 1}),
}
OPERATION_DURATION = {
    ANTHROPIC_DONE: Hist(2, 3.3, {0.64: 0, 1.28: 1, 2.56: 2}),  # 0.9 s and 2.4 s
    ANTHROPIC_OVERLOADED: Hist(1, 0.15, {0.08: 0, 0.16: 1}),
    OPENAI_CHAT_DONE: Hist(1, 1.2, {0.64: 0, 1.28: 1}),
    OPENAI_CHAT_ERROR: Hist(1, 30.0, {20.48: 0, 40.96: 1}),
    OPENAI_RESPONSES_ABORTED: Hist(1, 3.0, {2.56: 0, 5.12: 1}),
}
# (series, gen_ai.token.type, tokens estimated) → histogram
TOKEN_USAGE = {
    (ANTHROPIC_DONE, "input", False): Hist(2, 1250, {16: 0, 64: 1, 1024: 1, 4096: 2}),
    (ANTHROPIC_DONE, "output", False): Hist(2, 360, {4: 0, 16: 1, 256: 1, 1024: 2}),
    (OPENAI_CHAT_DONE, "input", True): Hist(1, 3000, {1024: 0, 4096: 1}),
    (OPENAI_CHAT_DONE, "output", True): Hist(1, 120, {64: 0, 256: 1}),
    (OPENAI_RESPONSES_ABORTED, "input", True): Hist(1, 800, {256: 0, 1024: 1}),
    (OPENAI_RESPONSES_ABORTED, "output", True): Hist(1, 40, {16: 0, 64: 1}),
}

# The conventions' advice, copied from the spec (not from metrics/semconv.py) so a slip there shows.
SPEC_BUCKETS = {
    "token_usage": [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
                    67108864],
    "operation_duration": [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                           40.96, 81.92],
    "time_to_first_token": [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                            5.0, 7.5, 10.0],
    "time_per_output_token": [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5],
}  # fmt: skip
