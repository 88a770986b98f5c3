"""Anthropic Messages API: streaming events and JSON bodies."""

from __future__ import annotations

from typing import Any

from metrics.interpreter import Interpreter, Usage, as_int, as_str, loads
from metrics.sse import SSEEvent

_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
_DELTA_TEXT = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


def normalise_usage(raw: dict[str, int]) -> Usage:
    """Anthropic's input_tokens excludes cache reads and writes; ours includes them."""
    cache_write = raw.get("cache_creation_input_tokens")
    cache_read = raw.get("cache_read_input_tokens")
    base = raw.get("input_tokens")
    parts = [v for v in (base, cache_write, cache_read) if v is not None]
    return Usage(
        input_tokens=sum(parts) if parts else None,
        output_tokens=raw.get("output_tokens"),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


class AnthropicInterpreter(Interpreter):
    def __init__(self) -> None:
        super().__init__()
        self._raw_usage: dict[str, int] = {}

    def _merge_usage(self, usage: Any) -> None:
        # A later report replaces an earlier one field by field (message_delta repeats, never adds).
        if not isinstance(usage, dict):
            return
        for key in _USAGE_KEYS:
            value = as_int(usage.get(key))
            if value is not None:
                self._raw_usage[key] = value
        self.facts.usage = normalise_usage(self._raw_usage)

    def _event(self, event: SSEEvent) -> bool:
        kind = event.event
        if kind == "ping" or not event.data:
            return False
        data = loads(event.data)
        kind = data.get("type", kind)
        if kind == "content_block_delta":
            delta = data["delta"]
            key = _DELTA_TEXT.get(delta.get("type"))
            text = delta.get(key) if key else None
            if text and isinstance(text, str):
                self.add_content(text)
                return True
            return False
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") in _TOOL_BLOCKS and block.get("name"):
                self.add_content(block["name"])
                return True
            text = block.get("text")
            if block.get("type") == "text" and isinstance(text, str) and text:
                self.add_content(text)
                return True
            return False
        if kind == "message_start":
            message = data.get("message") or {}
            self.facts.model = as_str(message.get("model")) or self.facts.model
            self._merge_usage(message.get("usage"))
        elif kind == "message_delta":
            delta = data.get("delta") or {}
            self.facts.stop_reason = as_str(delta.get("stop_reason")) or self.facts.stop_reason
            if isinstance(data.get("usage"), dict):
                self._merge_usage(data["usage"])
                self.facts.usage_final = True
        elif kind == "message_stop":
            self.facts.finished = True
        elif kind == "error":
            self.read_error(data)
            self.facts.finished = True
        return False

    def _body(self, data: dict[str, Any]) -> None:
        self.facts.model = as_str(data.get("model")) or self.facts.model
        self.facts.stop_reason = as_str(data.get("stop_reason"))
        if isinstance(data.get("usage"), dict):
            self._merge_usage(data["usage"])
            self.facts.usage_final = True
        for block in data.get("content") or ():
            if isinstance(block, dict):
                text = block.get("text") or block.get("thinking")
                if isinstance(text, str):
                    self.add_content(text)
        self.facts.finished = True
