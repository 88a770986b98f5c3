"""Per-request measurement: timing on a monotonic clock, usage, state, and the Record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from metrics.anthropic import AnthropicInterpreter
from metrics.content_encoding import DecodeError, Decoder, make_decoder
from metrics.estimate import TokenEstimator, approx_tokens
from metrics.interpreter import Interpreter, OpaqueInterpreter
from metrics.openai_chat import OpenAIChatInterpreter
from metrics.openai_responses import OpenAIResponsesInterpreter
from metrics.record import ABORTED, DONE, ERROR, STREAMING, Record
from metrics.sse import SSEDecoder, SSEEvent
from metrics.stats import percentile

PUBLISH_INTERVAL_S = 0.25  # at most four updates a second while a response streams
RATE_LIMIT_PREFIXES = ("anthropic-ratelimit-", "x-ratelimit-")
REQUEST_ID_HEADERS = ("request-id", "x-request-id")

_INTERPRETERS: dict[str, type[Interpreter]] = {
    "messages": AnthropicInterpreter,
    "chat_completions": OpenAIChatInterpreter,
    "responses": OpenAIResponsesInterpreter,
}


def interpreter_for(api: str) -> Interpreter:
    return _INTERPRETERS.get(api, OpaqueInterpreter)()


@dataclass(slots=True)
class RequestInfo:
    model: str | None = None
    stream: bool | None = None


def read_request(body: bytes | None) -> RequestInfo:
    """The model and stream flag a JSON request asks for; anything else yields blanks."""
    if not body or body[:1] not in (b"{", b" ", b"\n", b"\t", b"\r"):
        return RequestInfo()
    try:
        data = json.loads(body)
    except ValueError:
        return RequestInfo()
    if not isinstance(data, dict):
        return RequestInfo()
    model = data.get("model")
    stream = data.get("stream")
    return RequestInfo(
        model if isinstance(model, str) else None, stream if isinstance(stream, bool) else None
    )


def is_event_stream(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == "text/event-stream"


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


class RequestTracker:
    """Follows one request from the moment it is forwarded (t0) to its final record.

    All times are ``time.monotonic()`` seconds passed in by the caller, so the tracker is
    deterministic under test.
    """

    def __init__(self, record: Record, t0: float, request_body: bytes | None = None) -> None:
        self.record = record
        self.interpreter = interpreter_for(record.api)
        self._t0 = t0
        self._request_body = request_body
        self._decoder: Decoder | None = None
        self._sse: SSEDecoder | None = None
        self._decode_error: str | None = None
        self._t_first: float | None = None
        self._t_last: float | None = None
        self._gaps: list[float] = []
        self._last_publish = t0
        self._first_unpublished = False
        self._backlog: list[tuple[float, bytes]] = []

    # -- response -------------------------------------------------------------------------
    def on_response_headers(self, status: int, headers: Mapping[str, str], now: float) -> None:
        record = self.record
        record.status = status
        record.ttfb_ms = _ms(now - self._t0)
        record.stream = is_event_stream(headers.get("content-type"))
        for name in REQUEST_ID_HEADERS:
            if name in headers:
                record.request_id = headers[name]
                break
        record.rate_limits = {
            name: value
            for name, value in headers.items()
            if name.startswith(RATE_LIMIT_PREFIXES) or name == "retry-after"
        }
        if record.stream:
            record.state = STREAMING
            self._sse = SSEDecoder()
            try:
                self._decoder = make_decoder(headers.get("content-encoding"))
            except DecodeError as exc:
                self._decode_error = str(exc)

    def on_chunk(self, data: bytes, now: float) -> bool:
        """One chunk of a streamed body as it went over the wire. True when an update is due.

        Until the first token every chunk is parsed at once: TTFT and its update must not wait.
        After it, chunks are only noted with their arrival time and parsed in a batch when an
        update is due or the stream ends. The metrics come out the same, and the proxy's event
        loop pays a list append per chunk instead of a parse with cold caches in between.
        """
        if self._t_first is not None:
            self._backlog.append((now, data))
            return now - self._last_publish >= PUBLISH_INTERVAL_S
        self._parse(data, now)
        return self._first_unpublished

    def _parse(self, data: bytes, now: float) -> None:
        if self._sse is None or self._decode_error is not None or self._decoder is None:
            return
        try:
            decoded = self._decoder.decode(data)
        except DecodeError as exc:
            self._decode_error = str(exc)
            return
        if decoded:
            self._take(self._sse.feed(decoded), now)

    def flush(self) -> None:
        """Parse the chunks noted since the last flush, each with its own arrival time."""
        backlog, self._backlog = self._backlog, []
        for now, data in backlog:
            self._parse(data, now)

    def on_stream_end(self, now: float) -> None:
        self.flush()
        if self._sse is not None and self._decode_error is None:
            self._take(self._sse.close(), now)

    def on_body(self, body: bytes | None) -> None:
        """A whole (non-streamed, content-decoded) response body."""
        if body:
            self.interpreter.on_body(body)

    def _take(self, events: list[SSEEvent], now: float) -> None:
        on_event = self.interpreter.on_event
        content = 0
        for event in events:
            if on_event(event):
                content += 1
        if not content:
            return
        self.record.chunks += content
        if self._t_first is None:
            self._t_first = now
            self.record.ttft_ms = _ms(now - self._t0)
            self._first_unpublished = True
        elif self._t_last is not None and now > self._t_last:
            self._gaps.append(now - self._t_last)
        self._t_last = now

    # -- publishing -----------------------------------------------------------------------
    def snapshot(self, now: float) -> Record:
        """The record as it stands mid-stream, with a live estimate of output and speed."""
        self.flush()
        self._last_publish = now
        self._first_unpublished = False
        facts = self.interpreter.facts
        record = self.record
        record.model = facts.model or record.model
        if facts.usage is not None:
            record.input_tokens = facts.usage.input_tokens
            record.cache_read_tokens = facts.usage.cache_read_tokens
            record.cache_write_tokens = facts.usage.cache_write_tokens
        if facts.content_chars:
            record.output_tokens = -(-facts.content_chars // 4)  # ~4 characters a token
            record.tokens_estimated = True
            self._speed(record.output_tokens)
        return record

    # -- the end --------------------------------------------------------------------------
    @property
    def needs_estimate(self) -> bool:
        """True when finishing will count tokens (slow enough to keep off the event loop)."""
        facts = self.interpreter.facts
        return not facts.usage_final and facts.content_chars > 0 and self.record.api != "other"

    def finish(self, now: float, estimator: TokenEstimator | None = None) -> Record:
        """The final record after the whole response arrived."""
        self.flush()
        record = self.record
        facts = self.interpreter.facts
        record.duration_ms = _ms(now - self._t0)
        record.model = facts.model or record.model
        record.stop_reason = facts.stop_reason
        self._usage(estimator)
        self._speed(record.output_tokens)
        if self._gaps:
            gaps = [g * 1000.0 for g in self._gaps]
            record.itl_p50_ms = round(percentile(gaps, 50), 3)
            record.itl_p95_ms = round(percentile(gaps, 95), 3)
            record.itl_max_ms = round(max(gaps), 3)
        record.state, record.error_type, record.error_message = self._outcome()
        self._release()
        return record

    def fail(
        self,
        now: float,
        error_type: str,
        message: str,
        *,
        aborted: bool = False,
        estimator: TokenEstimator | None = None,
    ) -> Record:
        """The final record of a request that broke off (client gone, upstream unreachable …)."""
        self.on_stream_end(now)
        record = self.finish(now, estimator)
        record.state = ABORTED if aborted else ERROR
        # An error the response itself named (e.g. a mid-stream error event) is the better story.
        if aborted or record.error_type in (None, "incomplete_stream"):
            record.error_type = error_type
            record.error_message = message
        return record

    def _usage(self, estimator: TokenEstimator | None) -> None:
        record = self.record
        facts = self.interpreter.facts
        usage = facts.usage
        record.tokens_estimated = False
        if usage is not None:
            record.input_tokens = usage.input_tokens
            record.output_tokens = usage.output_tokens
            record.cache_read_tokens = usage.cache_read_tokens
            record.cache_write_tokens = usage.cache_write_tokens
            record.reasoning_tokens = usage.reasoning_tokens
        else:
            record.output_tokens = None
        if not self.needs_estimate:
            return
        # No closing usage report (include_usage off, or the stream was cut): count what we saw.
        count = estimator.count if estimator is not None else approx_tokens
        record.output_tokens = count("".join(facts.content))
        if record.input_tokens is None and estimator is not None:
            record.input_tokens = estimator.count_prompt(self._request_body)
        record.tokens_estimated = True

    def _speed(self, output_tokens: int | None) -> None:
        record = self.record
        record.output_tokens_per_s = record.tpot_ms = None
        if output_tokens is None or output_tokens < 2 or self._t_first is None:
            return
        span = (self._t_last or self._t_first) - self._t_first
        if span <= 0:
            return
        speed = (output_tokens - 1) / span
        record.output_tokens_per_s = round(speed, 3)
        record.tpot_ms = round(1000.0 / speed, 3)

    def _outcome(self) -> tuple[str, str | None, str | None]:
        record = self.record
        facts = self.interpreter.facts
        if facts.error_type:
            return ERROR, facts.error_type, facts.error_message
        if record.status is not None and record.status >= 400:
            return ERROR, f"http_{record.status}", None
        if self._decode_error is not None:
            return ERROR, "invalid_encoding", self._decode_error
        if record.stream and record.api != "other" and not facts.finished:
            return ERROR, "incomplete_stream", "the stream ended before the provider's final event"
        return DONE, None, None

    def _release(self) -> None:
        # Free per-stream buffers: a finished tracker may linger in history.
        self.interpreter.facts.content = []
        self._gaps = []
        self._sse = None
        self._decoder = None
        self._request_body = None
