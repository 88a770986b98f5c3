"""Properties: any re-chunking parses like the whole body; no input makes the stream callable fail."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livetoken.fake_upstream import encode_all
from livetoken.synthetic import Shape, stream_for
from livetoken_addon import LiveToken
from metrics.record import FINAL_STATES
from tests import streams
from tests.conftest import FIXTURES, fixture_body
from tests.drive import new_tracker, stream_record

ENCODINGS = ["", "gzip", "deflate", "br", "zstd"]
# What parsing decides; arrival times are the caller's, so timing fields are left out.
SEMANTIC = (
    "state",
    "model",
    "stop_reason",
    "error_type",
    "chunks",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "tokens_estimated",
)

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@st.composite
def generated_stream(draw) -> tuple[str, bytes, Shape]:
    """A valid stream of one of the three APIs: random (often multi-byte) text, thinking, a tool
    call, cached prompt tokens, hidden reasoning."""
    api = draw(st.sampled_from(["messages", "chat_completions", "responses"]))
    pieces = tuple(draw(st.lists(text, min_size=0, max_size=15)))
    cache_read = draw(st.integers(0, 5000))
    cache_write = draw(st.integers(0, 5000)) if api == "messages" else 0
    shape = Shape(
        model=draw(st.sampled_from(["claude-sonnet-4-5", "gpt-5", "m"])),
        tokens=len(pieces),
        text=pieces,
        input_tokens=draw(st.integers(1, 10**6)) + cache_read + cache_write,
        thinking=draw(st.integers(0, 5)) if api == "messages" else 0,
        tool=draw(st.sampled_from(["", "get_weather"])),
        tool_pieces=draw(st.integers(1, 5)),
        cache_read=cache_read,
        cache_write=cache_write,
        reasoning=draw(st.integers(0, 300)) if api != "messages" else 0,
    )
    return api, b"".join(e for e, _ in stream_for(api, shape)), shape


def fixture_streams() -> list[tuple[str, bytes]]:
    from tests.test_records import SSE_EXPECTATIONS

    hand = [
        ("messages", streams.ANTHROPIC_THINKING_TOOL),
        ("messages", streams.ANTHROPIC_CACHE_NO_TRAILING_NEWLINE),
        ("chat_completions", streams.OPENAI_CHAT_TOOL_CALLS),
        ("chat_completions", streams.OPENROUTER_COMMENT_USAGE_IN_CHOICE),
        ("responses", streams.OPENAI_RESPONSES_USAGE),
    ]
    if not FIXTURES.is_dir():
        return hand
    return hand + [(api, fixture_body(name)) for name, (api, _) in SSE_EXPECTATIONS.items()]


def semantic(record) -> dict:
    return {name: getattr(record, name) for name in SEMANTIC}


def rechunk(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points) if b > a]


def chunk_sizes() -> st.SearchStrategy[list[int]]:
    # From single bytes to 64 KiB: small sizes split UTF-8, CRLF and the compressor's blocks.
    return st.lists(st.one_of(st.integers(1, 8), st.integers(1, 65536)), min_size=1, max_size=40)


def sized(body: bytes, sizes: list[int]) -> list[bytes]:
    out, i, k = [], 0, 0
    while i < len(body):
        out.append(body[i : i + sizes[k % len(sizes)]])
        i += sizes[k % len(sizes)]
        k += 1
    return out


def check_rechunking(api: str, body: bytes, encoding: str, sizes: list[int]) -> None:
    whole, _ = stream_record(api, [body])
    wire = encode_all([body], encoding) if encoding else body
    headers = {"content-encoding": encoding} if encoding else {}
    parts, _ = stream_record(api, sized(wire, sizes), headers=headers)
    assert semantic(parts) == semantic(whole)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=st.sampled_from(fixture_streams()), encoding=st.sampled_from(ENCODINGS), sizes=chunk_sizes())
def test_any_rechunking_of_recorded_streams_parses_like_the_whole_body(stream, encoding, sizes) -> None:
    check_rechunking(*stream, encoding, sizes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=generated_stream(), encoding=st.sampled_from(ENCODINGS), sizes=chunk_sizes())
def test_any_rechunking_of_generated_streams_parses_like_the_whole_body(stream, encoding, sizes) -> None:
    api, body, shape = stream
    whole, _ = stream_record(api, [body])
    # The whole body says what the shape put in it ...
    assert (whole.state, whole.model, whole.output_tokens, whole.input_tokens, whole.cache_read_tokens) == (
        "done",
        shape.model,
        shape.output_tokens,
        shape.input_tokens,
        shape.cache_read,
    )
    assert (
        whole.stop_reason
        == {
            "messages": "tool_use" if shape.tool else "end_turn",
            "chat_completions": "tool_calls" if shape.tool else "stop",
            "responses": "completed",
        }[api]
    )
    # ... and so does any re-chunking, plain or compressed.
    check_rechunking(api, body, encoding, sizes)


# -- garbage in: bytes out unchanged, nothing raised, one final record ---------------------


def run_callable(chunks: list[bytes], api: str, headers: dict[str, str]) -> tuple[list, object]:
    addon = LiveToken()
    tracker = new_tracker(api)
    tracker.on_response_headers(200, {"content-type": "text/event-stream", **headers}, 100.0)
    stream = addon._stream(tracker)
    outputs = [stream(chunk) for chunk in chunks]
    assert stream(b"") == []
    return outputs, tracker.finish(101.0)


def assert_passed_through(chunks: list[bytes], outputs: list, record, caplog) -> None:
    assert outputs == chunks
    assert all(isinstance(o, bytes) for o in outputs)
    assert record.state in FINAL_STATES
    assert "internal error" not in caplog.text  # robust by design, not saved by the guard


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=300), max_size=20),
    api=st.sampled_from(["messages", "chat_completions", "responses", "other"]),
    encoding=st.sampled_from([*ENCODINGS, "gzip, br", "compress", "x-unknown"]),
)
def test_random_garbage_passes_through_untouched(chunks, api, encoding, caplog) -> None:
    caplog.set_level(logging.WARNING)
    outputs, record = run_callable(chunks, api, {"content-encoding": encoding} if encoding else {})
    assert_passed_through(chunks, outputs, record, caplog)


@st.composite
def mutated(draw) -> tuple[str, list[bytes]]:
    api, body = draw(st.sampled_from(fixture_streams()))
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 20))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at : at + draw(st.integers(1, 16))]
    return api, rechunk(bytes(data), draw(st.lists(st.integers(0, 10**6), max_size=30)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated(), encoding=st.sampled_from(ENCODINGS))
def test_mutated_streams_pass_through_untouched(case, encoding, caplog) -> None:
    caplog.set_level(logging.WARNING)
    api, chunks = case
    if encoding:  # valid compression of damaged SSE
        chunks = rechunk(encode_all([b"".join(chunks)], encoding), [len(c) for c in chunks])
    outputs, record = run_callable(chunks, api, {"content-encoding": encoding} if encoding else {})
    assert_passed_through(chunks, outputs, record, caplog)


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd", "deflate"])
def test_corrupted_compressed_bytes_pass_through(encoding, caplog) -> None:
    wire = bytearray(encode_all([streams.ANTHROPIC_THINKING_TOOL], encoding))
    wire[len(wire) // 2] ^= 0xFF
    chunks = [bytes(wire[i : i + 50]) for i in range(0, len(wire), 50)]
    outputs, record = run_callable(chunks, "messages", {"content-encoding": encoding})
    assert_passed_through(chunks, outputs, record, caplog)
    if encoding == "gzip":  # gzip carries a CRC; the others may decode damage as other text
        assert record.state == "error"
