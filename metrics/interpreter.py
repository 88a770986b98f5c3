"""What a provider interpreter learns from a response, and the shared base for interpreters."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from metrics.sse import SSEEvent


def loads(data: str | bytes) -> Any:
    """JSON for the hot path: orjson (several times faster), the standard parser where orjson is
    stricter than JSON allows (lone surrogate escapes, integers beyond 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


@dataclass(slots=True)
class Usage:
    """Token usage normalised as OpenTelemetry GenAI does: input includes cached input."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(slots=True)
class Facts:
    model: str | None = None
    usage: Usage | None = None
    # True once the response gave its closing usage report (message_delta, the usage chunk,
    # response.completed, a whole JSON body). Without it output tokens are estimated.
    usage_final: bool = False
    stop_reason: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    finished: bool = False  # the provider's own end-of-stream event was seen
    content_chars: int = 0
    # Generated text pieces, kept only to estimate tokens when the response carries no usage.
    content: list[str] = field(default_factory=list)
    malformed_events: int = 0


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Interpreter:
    """Reads one response of one API. Subclasses implement ``_event`` and ``_body``.

    Malformed input never raises: a bad event is counted in ``facts.malformed_events``.
    """

    def __init__(self) -> None:
        self.facts = Facts()

    def on_event(self, event: SSEEvent) -> bool:
        """Take one SSE event; True when it is a content event (a token-bearing delta)."""
        try:
            return self._event(event)
        except (ValueError, TypeError, AttributeError, KeyError):
            self.facts.malformed_events += 1
            return False

    def on_body(self, body: bytes) -> None:
        """Take a whole non-streaming body (already content-decoded)."""
        try:
            data = loads(body)
        except ValueError:
            self.facts.malformed_events += 1
            return
        if not isinstance(data, dict):
            return
        if not self.read_error(data):
            try:
                self._body(data)
            except (ValueError, TypeError, AttributeError, KeyError):
                self.facts.malformed_events += 1

    def read_error(self, data: dict[str, Any]) -> bool:
        """Both providers' error shapes: ``{"type": "error", "error": {...}}`` and ``{"error": {...}}``."""
        error = data.get("error")
        if not isinstance(error, dict):
            if isinstance(error, str) and error:
                self.facts.error_type = self.facts.error_type or "error"
                self.facts.error_message = error
                return True
            return False
        self.facts.error_type = as_str(error.get("type")) or as_str(error.get("code")) or "error"
        self.facts.error_message = as_str(error.get("message"))
        return True

    def add_content(self, text: str) -> None:
        self.facts.content.append(text)
        self.facts.content_chars += len(text)

    def _event(self, event: SSEEvent) -> bool:
        raise NotImplementedError

    def _body(self, data: dict[str, Any]) -> None:
        raise NotImplementedError


class OpaqueInterpreter(Interpreter):
    """For paths that are not one of the three APIs: only error bodies mean something."""

    def _event(self, event: SSEEvent) -> bool:
        return False

    def _body(self, data: dict[str, Any]) -> None:
        model = data.get("model")
        if isinstance(model, str):
            self.facts.model = model
