"""A response in, the record out: every recorded fixture and its hand-written twin.

Expected values come from ../shared/fixtures/README.md (usage normalised: input includes cache).
"""

from __future__ import annotations

import gzip
import json

import pytest

from metrics.content_encoding import make_decoder
from metrics.record import DONE, ERROR
from tests import streams
from tests.conftest import FIXTURES, fixture_body, requires_fixtures
from tests.drive import body_record, split, stream_record

SSE_EXPECTATIONS = {
    "anthropic_text_basic_no_trailing_newline.sse": (
        "messages",
        dict(
            state=DONE, model="claude-3-opus-latest", input_tokens=11, output_tokens=6, stop_reason="end_turn"
        ),
    ),
    "anthropic_thinking_tool_use.sse": (
        "messages",
        dict(state=DONE, input_tokens=424, output_tokens=119, stop_reason="tool_use"),
    ),
    "anthropic_claude_code_thinking_cache_write.sse": (
        "messages",
        dict(
            state=DONE, input_tokens=10423, cache_write_tokens=10415, cache_read_tokens=0, output_tokens=329
        ),
    ),
    "anthropic_web_search_server_tool.sse": (
        "messages",
        dict(state=DONE, input_tokens=13520, output_tokens=415, stop_reason="end_turn"),
    ),
    "anthropic_error_event_overloaded.sse": (
        "messages",
        dict(state=ERROR, error_type="overloaded_error", error_message="Overloaded"),
    ),
    "openai_chat_text_reasoning_usage.sse": (
        "chat_completions",
        dict(
            state=DONE,
            model="gpt-5-2025-08-07",
            input_tokens=19,
            output_tokens=75,
            reasoning_tokens=64,
            stop_reason="stop",
        ),
    ),
    "openai_chat_parallel_tool_calls_usage.sse": (
        "chat_completions",
        dict(state=DONE, input_tokens=106, output_tokens=50, stop_reason="tool_calls"),
    ),
    "openai_responses_text_usage.sse": (
        "responses",
        dict(
            state=DONE,
            input_tokens=19,
            output_tokens=118,
            reasoning_tokens=64,
            cache_read_tokens=0,
            stop_reason="completed",
        ),
    ),
    "openrouter_chat_comment_usage_in_choice.sse": (
        "chat_completions",
        dict(state=DONE, input_tokens=16, output_tokens=18),
    ),
}


def check(record, expected: dict) -> None:
    for name, value in expected.items():
        assert getattr(record, name) == value, name
    assert record.tokens_estimated is False or record.state == ERROR


def fixture_params():
    return [pytest.param(name, id=name) for name in SSE_EXPECTATIONS] if FIXTURES.is_dir() else []


@requires_fixtures
@pytest.mark.parametrize("name", fixture_params())
@pytest.mark.parametrize("chunk_size", [1 << 20, 7, 1])
def test_recorded_stream_yields_readme_values(name: str, chunk_size: int) -> None:
    api, expected = SSE_EXPECTATIONS[name]
    record, _ = stream_record(api, split(fixture_body(name), chunk_size))
    check(record, expected)


@requires_fixtures
@pytest.mark.parametrize("name", fixture_params())
def test_recorded_stream_gzip_encoded_one_byte_at_a_time(name: str) -> None:
    api, expected = SSE_EXPECTATIONS[name]
    encoded = gzip.compress(fixture_body(name))
    record, _ = stream_record(api, split(encoded, 1), headers={"content-encoding": "gzip"})
    check(record, expected)


@requires_fixtures
def test_first_content_of_thinking_tool_use_is_the_first_thinking_delta() -> None:
    body = fixture_body("anthropic_thinking_tool_use.sse")
    events = body.split(b"\n\n")
    first_thinking = next(i for i, e in enumerate(events) if b"thinking_delta" in e)
    # One event per chunk, chunk i arrives at 100.05 + (i+1) * 0.01; t0 = 100.0.
    record, _ = stream_record("messages", [e + b"\n\n" for e in events if e])
    assert record.ttft_ms == pytest.approx((0.05 + (first_thinking + 1) * 0.01) * 1000)


@requires_fixtures
def test_parallel_tool_calls_are_grouped_by_index() -> None:
    _, tracker = stream_record(
        "chat_completions", [fixture_body("openai_chat_parallel_tool_calls_usage.sse")]
    )
    assert tracker.interpreter.tool_calls == {0: "add", 1: "multiply"}


@requires_fixtures
def test_openrouter_comment_is_not_a_token() -> None:
    body = fixture_body("openrouter_chat_comment_usage_in_choice.sse")
    comment, rest = body.split(b"\n\n", 1)
    assert comment.startswith(b": OPENROUTER")
    record, _ = stream_record("chat_completions", [comment + b"\n\n", rest])
    # The comment arrived at 100.06, the first content with the second chunk at 100.07.
    assert record.ttft_ms == pytest.approx(70.0)


JSON_EXPECTATIONS = {
    "anthropic_message_nonstream.json": (
        "messages",
        dict(state=DONE, input_tokens=16, output_tokens=34, model="claude-sonnet-4-20250514"),
    ),
    "openai_chat_nonstream.json": (
        "chat_completions",
        dict(state=DONE, input_tokens=19, output_tokens=139, reasoning_tokens=128, cache_read_tokens=0),
    ),
    "openai_responses_nonstream.json": ("responses", dict(state=DONE, model="gpt-5-2025-08-07")),
    "anthropic_429_rate_limit_error.json": (
        "messages",
        dict(state=ERROR, status=429, error_type="rate_limit_error"),
    ),
    "anthropic_529_overloaded_error.json": (
        "messages",
        dict(state=ERROR, status=529, error_type="overloaded_error"),
    ),
}


@requires_fixtures
@pytest.mark.parametrize("name", list(JSON_EXPECTATIONS) if FIXTURES.is_dir() else [])
def test_recorded_json_body_yields_its_usage_or_error(name: str) -> None:
    api, expected = JSON_EXPECTATIONS[name]
    data = json.loads((FIXTURES / name).read_text())
    headers = {k.lower(): v for k, v in data["headers"].items()}
    record = body_record(api, data["body"].encode(), status=data["status"], headers=headers)
    check(record, expected)
    if name == "openai_responses_nonstream.json":
        usage = json.loads(data["body"])["usage"]
        assert (record.input_tokens, record.output_tokens) == (usage["input_tokens"], usage["output_tokens"])
        assert record.reasoning_tokens == usage["output_tokens_details"]["reasoning_tokens"]


@requires_fixtures
def test_429_keeps_rate_limit_headers_and_request_id() -> None:
    data = json.loads((FIXTURES / "anthropic_429_rate_limit_error.json").read_text())
    headers = {k.lower(): v for k, v in data["headers"].items()}
    record = body_record("messages", data["body"].encode(), status=429, headers=headers)
    assert record.rate_limits["retry-after"] == "453413"
    assert record.rate_limits["anthropic-ratelimit-unified-status"] == "rejected"
    assert "anthropic-organization-id" not in record.rate_limits
    assert record.request_id == "req_011CUpYwPf1jyueMC5v8cW2e"


# -- the same behaviours from hand-written streams -----------------------------------------

HAND_WRITTEN = {
    "thinking_tool_use_usage_repeated_not_added": (
        "messages",
        streams.ANTHROPIC_THINKING_TOOL,
        dict(
            state=DONE,
            model="claude-sonnet-4-20250514",
            input_tokens=424,
            output_tokens=119,
            stop_reason="tool_use",
            chunks=3,
        ),
    ),
    "cache_write_and_no_trailing_newline": (
        "messages",
        streams.ANTHROPIC_CACHE_NO_TRAILING_NEWLINE,
        dict(
            state=DONE,
            input_tokens=10423,
            cache_write_tokens=10415,
            cache_read_tokens=0,
            output_tokens=329,
            stop_reason="end_turn",
            chunks=2,
        ),
    ),
    "error_event_in_200_stream": (
        "messages",
        streams.ANTHROPIC_ERROR_EVENT,
        dict(state=ERROR, status=200, error_type="overloaded_error", error_message="Overloaded"),
    ),
    "chat_reasoning_usage_chunk_with_empty_choices": (
        "chat_completions",
        streams.OPENAI_CHAT_REASONING_USAGE,
        dict(state=DONE, input_tokens=19, output_tokens=75, reasoning_tokens=64, chunks=2),
    ),
    "chat_parallel_tool_calls": (
        "chat_completions",
        streams.OPENAI_CHAT_TOOL_CALLS,
        dict(state=DONE, input_tokens=106, output_tokens=50, stop_reason="tool_calls"),
    ),
    "openrouter_usage_inside_choice_chunk": (
        "chat_completions",
        streams.OPENROUTER_COMMENT_USAGE_IN_CHOICE,
        dict(state=DONE, input_tokens=16, output_tokens=18, chunks=2),
    ),
    "responses_usage_in_completed": (
        "responses",
        streams.OPENAI_RESPONSES_USAGE,
        dict(
            state=DONE, input_tokens=19, output_tokens=118, reasoning_tokens=64, cache_read_tokens=0, chunks=2
        ),
    ),
    "responses_failed": (
        "responses",
        streams.OPENAI_RESPONSES_FAILED,
        dict(state=ERROR, error_type="server_error", error_message="boom", stop_reason="failed"),
    ),
}


@pytest.mark.parametrize("name", HAND_WRITTEN)
@pytest.mark.parametrize("chunk_size", [1 << 20, 5, 1])
def test_hand_written_stream(name: str, chunk_size: int) -> None:
    api, body, expected = HAND_WRITTEN[name]
    record, _ = stream_record(api, split(body, chunk_size))
    check(record, expected)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_hand_written_stream_content_encoded(encoding: str) -> None:
    from livetoken.fake_upstream import encode_all

    body = streams.ANTHROPIC_THINKING_TOOL
    events = [e + b"\n\n" for e in body.split(b"\n\n") if e]
    record, _ = stream_record(
        "messages", split(encode_all(events, encoding), 3), headers={"content-encoding": encoding}
    )
    check(record, HAND_WRITTEN["thinking_tool_use_usage_repeated_not_added"][2])


def test_hand_written_tool_calls_grouped_by_index() -> None:
    _, tracker = stream_record("chat_completions", [streams.OPENAI_CHAT_TOOL_CALLS])
    assert tracker.interpreter.tool_calls == {0: "add", 1: "multiply"}


def test_decoder_chain_for_gzip_then_br() -> None:
    import brotli

    data = b"data: x\n\n"
    encoded = brotli.compress(gzip.compress(data))
    assert make_decoder("gzip, br").decode(encoded) == data
