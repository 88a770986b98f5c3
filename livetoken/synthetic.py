"""Synthetic API responses in the providers' real wire shapes, for the fake upstream and the demo.

A ``Shape`` says what the answer holds (text, thinking, a tool call, cached prompt tokens,
hidden reasoning, a mid-stream error); each generator yields ``(wire bytes, is content)`` per
SSE event. Every content event counts as one output token, so the usage the stream reports at
its end is exactly what a correct monitor must show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Event = tuple[bytes, bool]  # (wire bytes of one SSE event, is it a content event?)
STAMP = b"@STAMP@@@@@@@@@@@"  # replaced by the send time (17 characters) with stamp=1


@dataclass(frozen=True)
class Shape:
    model: str = "fake-model"
    tokens: int = 20  # text deltas
    input_tokens: int = 10  # the whole prompt, cached parts included
    thinking: int = 0  # Anthropic thinking deltas before the text
    tool: str = ""  # a tool call with this name after the text
    tool_pieces: int = 3  # argument fragments of the tool call
    cache_read: int = 0
    cache_write: int = 0  # Anthropic only
    reasoning: int = 0  # OpenAI hidden reasoning tokens (counted in usage, never streamed)
    error_event: bool = False  # break off halfway with the provider's mid-stream error
    stamp: bool = False  # text deltas carry their send time (benchmarks)
    text: tuple[str, ...] = ()  # the text deltas themselves (default: " w0", " w1" … ``tokens`` of them)

    def deltas(self) -> list[str]:
        return list(self.text) if self.text else words(self.tokens, self.stamp)

    @property
    def output_tokens(self) -> int:
        tool = (1 + self.tool_pieces) if self.tool else 0
        return self.thinking + len(self.deltas()) + tool + self.reasoning


def sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def words(n: int, stamp: bool = False) -> list[str]:
    return [STAMP.decode()] * n if stamp else [f" w{i}" for i in range(n)]


def tool_arguments(pieces: int) -> list[str]:
    whole = json.dumps({"city": "Florence", "unit": "celsius", "days": 3})
    step = -(-len(whole) // max(1, pieces))
    return [whole[i : i + step] for i in range(0, len(whole), step)]


# -- Anthropic Messages ----------------------------------------------------------------------


def anthropic_stream(shape: Shape) -> Iterator[Event]:
    usage = {
        "input_tokens": shape.input_tokens - shape.cache_read - shape.cache_write,
        "cache_creation_input_tokens": shape.cache_write,
        "cache_read_input_tokens": shape.cache_read,
        "output_tokens": 1,
    }
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": shape.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    yield sse({"type": "message_start", "message": message}, "message_start"), False
    index = 0

    def block(kind: str, body: dict[str, Any], deltas: list[tuple[str, str, str]]) -> Iterator[Event]:
        yield (
            sse(
                {"type": "content_block_start", "index": index, "content_block": {"type": kind, **body}},
                "content_block_start",
            ),
            kind == "tool_use",
        )
        for delta_type, key, value in deltas:
            yield (
                sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": delta_type, key: value},
                    },
                    "content_block_delta",
                ),
                key != "signature",
            )
        yield sse({"type": "content_block_stop", "index": index}, "content_block_stop"), False

    if shape.thinking:
        thoughts = [("thinking_delta", "thinking", f" thought{i}") for i in range(shape.thinking)]
        yield from block(
            "thinking",
            {"thinking": "", "signature": ""},
            [*thoughts, ("signature_delta", "signature", "EqQBCgIYAhIM")],
        )
        index += 1
    yield sse({"type": "ping"}, "ping"), False
    texts = [("text_delta", "text", t) for t in shape.deltas()]
    if shape.error_event:  # half the text, then the error event instead of the rest
        yield from list(block("text", {"text": ""}, texts[: shape.tokens // 2]))[:-1]
        yield (
            sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"),
            False,
        )
        return
    yield from block("text", {"text": ""}, texts)
    stop = "end_turn"
    if shape.tool:
        index += 1
        pieces = [("input_json_delta", "partial_json", "")]  # the API's first piece is empty
        pieces += [("input_json_delta", "partial_json", p) for p in tool_arguments(shape.tool_pieces)]
        yield from block("tool_use", {"id": "toolu_fake", "name": shape.tool, "input": {}}, pieces)
        stop = "tool_use"
    final_usage = {**usage, "output_tokens": shape.output_tokens}
    yield (
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": final_usage,
            },
            "message_delta",
        ),
        False,
    )
    yield sse({"type": "message_stop"}, "message_stop"), False


def anthropic_body(shape: Shape) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if shape.thinking:
        content.append(
            {
                "type": "thinking",
                "thinking": "".join(f" thought{i}" for i in range(shape.thinking)),
                "signature": "EqQBCgIYAhIM",
            }
        )
    content.append({"type": "text", "text": "".join(shape.deltas())})
    if shape.tool:
        content.append(
            {
                "type": "tool_use",
                "id": "toolu_fake",
                "name": shape.tool,
                "input": json.loads("".join(tool_arguments(shape.tool_pieces))),
            }
        )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": shape.model,
        "content": content,
        "stop_reason": "tool_use" if shape.tool else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": shape.input_tokens - shape.cache_read - shape.cache_write,
            "cache_creation_input_tokens": shape.cache_write,
            "cache_read_input_tokens": shape.cache_read,
            "output_tokens": shape.output_tokens,
        },
    }


# -- OpenAI Chat Completions -----------------------------------------------------------------


def chat_usage(shape: Shape) -> dict[str, Any]:
    return {
        "prompt_tokens": shape.input_tokens,
        "completion_tokens": shape.output_tokens,
        "total_tokens": shape.input_tokens + shape.output_tokens,
        "prompt_tokens_details": {"cached_tokens": shape.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": shape.reasoning, "audio_tokens": 0},
    }


def chat_stream(shape: Shape, include_usage: bool) -> Iterator[Event]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": shape.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    yield chunk({"role": "assistant", "content": ""}), False
    for i, word in enumerate(shape.deltas()):
        if shape.error_event and i == shape.tokens // 2:
            yield sse({"error": {"message": "The server had an error", "type": "server_error"}}), False
            return
        yield chunk({"content": word}), True
    finish = "stop"
    if shape.tool:
        yield (
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_fake",
                            "type": "function",
                            "function": {"name": shape.tool, "arguments": ""},
                        }
                    ]
                }
            ),
            True,
        )
        for piece in tool_arguments(shape.tool_pieces):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), True
        finish = "tool_calls"
    yield chunk({}, finish), False
    if include_usage:
        yield (
            sse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": shape.model,
                    "choices": [],
                    "usage": chat_usage(shape),
                }
            ),
            False,
        )
    yield sse("[DONE]"), False


def chat_body(shape: Shape) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(shape.deltas())}
    if shape.tool:
        message["tool_calls"] = [
            {
                "id": "call_fake",
                "type": "function",
                "function": {"name": shape.tool, "arguments": "".join(tool_arguments(3))},
            }
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": shape.model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if shape.tool else "stop"}
        ],
        "usage": chat_usage(shape),
    }


# -- OpenAI Responses ------------------------------------------------------------------------


def responses_usage(shape: Shape) -> dict[str, Any]:
    return {
        "input_tokens": shape.input_tokens,
        "input_tokens_details": {"cached_tokens": shape.cache_read},
        "output_tokens": shape.output_tokens,
        "output_tokens_details": {"reasoning_tokens": shape.reasoning},
        "total_tokens": shape.input_tokens + shape.output_tokens,
    }


def responses_stream(shape: Shape) -> Iterator[Event]:
    response = {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "status": "in_progress",
        "model": shape.model,
        "output": [],
        "usage": None,
    }
    seq = iter(range(1_000_000))

    def event(kind: str, **body: Any) -> bytes:
        return sse({"type": kind, "sequence_number": next(seq), **body}, kind)

    yield event("response.created", response=response), False
    yield event("response.in_progress", response=response), False
    item = {"id": "msg_fake", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    yield event("response.output_item.added", output_index=0, item=item), False
    yield (
        event(
            "response.content_part.added",
            item_id="msg_fake",
            output_index=0,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": []},
        ),
        False,
    )
    for i, word in enumerate(shape.deltas()):
        if shape.error_event and i == shape.tokens // 2:
            yield event("error", code="server_error", message="The server had an error"), False
            return
        yield (
            event(
                "response.output_text.delta", item_id="msg_fake", output_index=0, content_index=0, delta=word
            ),
            True,
        )
    text = "".join(shape.deltas())
    yield (
        event("response.output_text.done", item_id="msg_fake", output_index=0, content_index=0, text=text),
        False,
    )
    output = [
        {**item, "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}
    ]
    if shape.tool:
        call = {
            "id": "fc_fake",
            "type": "function_call",
            "call_id": "call_fake",
            "name": shape.tool,
            "arguments": "",
        }
        yield event("response.output_item.added", output_index=1, item=call), False
        for piece in tool_arguments(shape.tool_pieces):
            yield (
                event(
                    "response.function_call_arguments.delta", item_id="fc_fake", output_index=1, delta=piece
                ),
                True,
            )
        output.append({**call, "arguments": "".join(tool_arguments(shape.tool_pieces))})
    done = dict(response, status="completed", output=output, usage=responses_usage(shape))
    yield event("response.completed", response=done), False


def responses_body(shape: Shape) -> dict[str, Any]:
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": shape.model,
        "output": [
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "".join(shape.deltas()), "annotations": []}],
            }
        ],
        "usage": responses_usage(shape),
    }


# -- by API ----------------------------------------------------------------------------------


def stream_for(api: str, shape: Shape, include_usage: bool = True) -> list[Event]:
    if api == "messages":
        return list(anthropic_stream(shape))
    if api == "chat_completions":
        return list(chat_stream(shape, include_usage))
    return list(responses_stream(shape))


def body_for(api: str, shape: Shape) -> dict[str, Any]:
    return {"messages": anthropic_body, "chat_completions": chat_body}.get(api, responses_body)(shape)


ERROR_TYPES = {
    429: "rate_limit_error",
    529: "overloaded_error",
    500: "api_error",
    401: "authentication_error",
    400: "invalid_request_error",
}


def error_body(api: str, status: int) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error")
    if api == "messages":
        return {"type": "error", "error": {"type": kind, "message": f"fake {status}"}}
    return {"error": {"message": f"fake {status}", "type": kind, "code": None}}


def api_of(path: str) -> str:
    p = path.split("?", 1)[0].rstrip("/")
    for suffix, api in (
        ("/chat/completions", "chat_completions"),
        ("/responses", "responses"),
        ("/messages", "messages"),
    ):
        if p.endswith(suffix):
            return api
    return "other"
