"""OpenAI Responses API: typed events (``response.*``) and JSON bodies."""

from __future__ import annotations

from typing import Any

from metrics.interpreter import Interpreter, Usage, as_int, as_str, loads
from metrics.sse import SSEEvent

_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def normalise_usage(usage: dict[str, Any]) -> Usage:
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    return Usage(
        input_tokens=as_int(usage.get("input_tokens")),
        output_tokens=as_int(usage.get("output_tokens")),
        cache_read_tokens=as_int(input_details.get("cached_tokens")),
        reasoning_tokens=as_int(output_details.get("reasoning_tokens")),
    )


class OpenAIResponsesInterpreter(Interpreter):
    def _event(self, event: SSEEvent) -> bool:
        if not event.data:
            return False
        data = loads(event.data)
        if not isinstance(data, dict):
            self.facts.malformed_events += 1
            return False
        kind = as_str(data.get("type")) or event.event or ""
        if kind.endswith(".delta"):
            delta = data.get("delta")
            if delta and isinstance(delta, str):
                self.add_content(delta)
                return True
            return False
        if kind == "error":
            self.facts.error_type = as_str(data.get("code")) or as_str(data.get("type")) or "error"
            self.facts.error_message = as_str(data.get("message"))
            if isinstance(data.get("error"), dict):
                self.read_error(data)
            self.facts.finished = True
            return False
        response = data.get("response")
        if isinstance(response, dict):
            self._response(response)
            if kind in _TERMINAL:
                self.facts.finished = True
        return False

    def _response(self, response: dict[str, Any]) -> None:
        self.facts.model = as_str(response.get("model")) or self.facts.model
        status = as_str(response.get("status"))
        if status and status not in ("in_progress", "queued"):
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            self.facts.stop_reason = f"{status}:{reason}" if isinstance(reason, str) else status
        if isinstance(response.get("usage"), dict):
            self.facts.usage = normalise_usage(response["usage"])
            self.facts.usage_final = True
        error = response.get("error")
        if isinstance(error, dict):
            self.facts.error_type = as_str(error.get("code")) or as_str(error.get("type")) or "error"
            self.facts.error_message = as_str(error.get("message"))

    def _body(self, data: dict[str, Any]) -> None:
        self._response(data)
        for item in data.get("output") or ():
            for part in (item.get("content") or ()) if isinstance(item, dict) else ():
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str):
                    self.add_content(text)
        self.facts.finished = True
