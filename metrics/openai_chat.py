"""OpenAI Chat Completions: streamed chunks and JSON bodies (also OpenAI-compatible servers)."""

from __future__ import annotations

from typing import Any

from metrics.interpreter import Interpreter, Usage, as_int, as_str, loads
from metrics.sse import SSEEvent

_DELTA_TEXT_KEYS = ("content", "reasoning_content", "reasoning", "refusal")


def normalise_usage(usage: dict[str, Any]) -> Usage:
    """prompt_tokens already includes cached_tokens; completion_tokens includes reasoning."""
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=as_int(usage.get("prompt_tokens")),
        output_tokens=as_int(usage.get("completion_tokens")),
        cache_read_tokens=as_int(prompt_details.get("cached_tokens")),
        reasoning_tokens=as_int(completion_details.get("reasoning_tokens")),
    )


class OpenAIChatInterpreter(Interpreter):
    def __init__(self) -> None:
        super().__init__()
        # Tool calls as they stream in, grouped by index: index -> function name.
        self.tool_calls: dict[int, str] = {}

    def _event(self, event: SSEEvent) -> bool:
        data_text = event.data
        if data_text == "[DONE]":
            self.facts.finished = True
            return False
        if not data_text:
            return False
        data = loads(data_text)
        if not isinstance(data, dict):
            self.facts.malformed_events += 1
            return False
        if "error" in data and self.read_error(data):
            self.facts.finished = True
            return False
        if self.facts.model is None:
            self.facts.model = as_str(data.get("model"))
        usage = data.get("usage")
        if isinstance(usage, dict):
            self.facts.usage = normalise_usage(usage)
            self.facts.usage_final = True
        content = False
        for choice in data.get("choices") or ():
            content |= self._choice(choice)
        return content

    def _choice(self, choice: dict[str, Any]) -> bool:
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            self.facts.stop_reason = finish
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return False
        content = False
        for key in _DELTA_TEXT_KEYS:
            text = delta.get(key)
            if text and isinstance(text, str):
                self.add_content(text)
                content = True
        for call in delta.get("tool_calls") or ():
            index = call.get("index", 0)
            function = call.get("function") or {}
            name = function.get("name")
            if name and isinstance(name, str):
                self.tool_calls[index] = self.tool_calls.get(index, "") + name
                self.add_content(name)
                content = True
            arguments = function.get("arguments")
            if arguments and isinstance(arguments, str):
                self.add_content(arguments)
                content = True
        return content

    def _body(self, data: dict[str, Any]) -> None:
        self.facts.model = as_str(data.get("model")) or self.facts.model
        if isinstance(data.get("usage"), dict):
            self.facts.usage = normalise_usage(data["usage"])
            self.facts.usage_final = True
        for choice in data.get("choices") or ():
            finish = choice.get("finish_reason")
            if isinstance(finish, str):
                self.facts.stop_reason = finish
            message = choice.get("message") or {}
            for key in _DELTA_TEXT_KEYS:
                text = message.get(key)
                if isinstance(text, str):
                    self.add_content(text)
        self.facts.finished = True
