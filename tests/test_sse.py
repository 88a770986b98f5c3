"""The SSE decoder: WHATWG framing, fed whole, in the recorded chunks, and one byte at a time."""

from __future__ import annotations

import json

import pytest

from metrics.sse import SSEDecoder, SSEEvent
from tests.conftest import FIXTURES, requires_fixtures


def decode(chunks: list[bytes]) -> tuple[list[dict], list[dict]]:
    """(events dispatched while feeding, events flushed at end of stream)."""
    decoder = SSEDecoder()
    dispatched = [e for chunk in chunks for e in decoder.feed(chunk)]
    flushed = decoder.close()
    as_dicts = lambda events: [{"event": e.event, "data": e.data} for e in events]  # noqa: E731
    return as_dicts(dispatched), as_dicts(flushed)


def one_byte_at_a_time(chunks: list[bytes]) -> list[bytes]:
    whole = b"".join(chunks)
    return [whole[i : i + 1] for i in range(len(whole))]


def framing_cases() -> list:
    if not FIXTURES.is_dir():
        return []
    cases = json.loads((FIXTURES / "sse_framing_edge_cases.json").read_text())["cases"]
    return [pytest.param(c, id=c["name"]) for c in cases]


@requires_fixtures
@pytest.mark.parametrize("case", framing_cases())
@pytest.mark.parametrize("split", ["recorded_chunks", "one_byte_at_a_time"])
def test_framing_edge_cases_yield_expected_events(case: dict, split: str) -> None:
    chunks = [bytes.fromhex(h) for h in case["chunks_hex"]]
    if split == "one_byte_at_a_time":
        chunks = one_byte_at_a_time(chunks)
    dispatched, _ = decode(chunks)
    assert dispatched == case["expected_events"]


@requires_fixtures
def test_event_left_without_blank_line_is_flushed_and_marked_truncated() -> None:
    case = next(
        c
        for c in json.loads((FIXTURES / "sse_framing_edge_cases.json").read_text())["cases"]
        if c["name"] == "final_event_without_trailing_blank_line"
    )
    decoder = SSEDecoder()
    for h in case["chunks_hex"]:
        decoder.feed(bytes.fromhex(h))
    assert decoder.close() == [SSEEvent(None, "5", truncated=True)]


# The same behaviours, hand-written, so the suite means something without ../shared.
HAND_WRITTEN = {
    "lf": (
        [b"event: a\ndata: 1\n\ndata: 2\n\n"],
        [{"event": "a", "data": "1"}, {"event": None, "data": "2"}],
    ),
    "crlf_split": (
        [b"data: A\r\n", b"data: B\r", b"\n", b"data: C\r\n", b"\r\n"],
        [{"event": None, "data": "A\nB\nC"}],
    ),
    "cr_only": ([b"data: x\r\rdata: y\r\r"], [{"event": None, "data": "x"}, {"event": None, "data": "y"}]),
    "utf8_split": (
        [b'data: {"t":"\xd0', b"\xb8\xf0\x9f", b'\x91\x8b"}\n\n'],
        [{"event": None, "data": '{"t":"и👋"}'}],
    ),
    "u2028_is_not_a_line_end": ([b"data: a\xe2\x80\xa8b\n\n"], [{"event": None, "data": "a\u2028b"}]),
    "one_leading_bom_only": (
        [b"\xef\xbb", b"\xbfdata: 1\n\n\xef\xbb\xbfdata: 2\n\ndata: 3\n\n"],
        [{"event": None, "data": "1"}, {"event": None, "data": "3"}],
    ),
    "comments_are_not_events": (
        [b": OPENROUTER PROCESSING\n\n:ping\n\ndata: x\n\n"],
        [{"event": None, "data": "x"}],
    ),
    "multi_line_data": ([b"data: a\ndata:\ndata: b\n\n"], [{"event": None, "data": "a\n\nb"}]),
    "event_without_data": ([b"event: ping\n\n"], [{"event": "ping", "data": ""}]),
    "unknown_fields_and_id_ignored": (
        [b"id: 7\nretry: 10\nfoo: bar\ndata: x\n\n"],
        [{"event": None, "data": "x"}],
    ),
}


@pytest.mark.parametrize("name", HAND_WRITTEN)
@pytest.mark.parametrize("bytewise", [False, True])
def test_hand_written_framing(name: str, bytewise: bool) -> None:
    chunks, expected = HAND_WRITTEN[name]
    if bytewise:
        chunks = one_byte_at_a_time(chunks)
    dispatched, flushed = decode(chunks)
    assert dispatched == expected
    assert flushed == []


def test_final_event_without_newline_is_read_at_close() -> None:
    dispatched, flushed = decode([b'event: message_stop\ndata: {"type":"message_stop"}'])
    assert dispatched == []
    assert flushed == [{"event": "message_stop", "data": '{"type":"message_stop"}'}]


def test_invalid_utf8_does_not_raise() -> None:
    dispatched, _ = decode([b"data: \xff\xfe\n\n"])
    assert dispatched == [{"event": None, "data": "\ufffd\ufffd"}]


def test_a_line_that_never_ends_is_dropped_not_buffered_without_bound(monkeypatch) -> None:
    monkeypatch.setattr(SSEDecoder, "MAX_LINE", 1000)
    decoder = SSEDecoder()
    assert decoder.feed(b"data: " + b"x" * 600) == []
    assert decoder.feed(b"x" * 600) == []  # past the limit: dropped
    assert decoder._pending == [] and decoder.oversized_lines == 1
    assert decoder.feed(b"x" * 5000) == []
    events = decoder.feed(b"xx\n\ndata: after\n\n")
    assert [e.data for e in events] == ["after"]


def test_a_50_mb_event_is_dropped_while_it_streams_and_the_next_one_is_read() -> None:
    decoder = SSEDecoder()
    chunk = b"y" * 65536
    decoder.feed(b"data: ")
    held = 0
    for _ in range(50 * 16):  # 50 MiB in 64 KiB chunks
        assert decoder.feed(chunk) == []
        held = max(held, decoder._pending_len)
    assert held <= SSEDecoder.MAX_LINE and decoder.oversized_lines == 1
    assert [e.data for e in decoder.feed(b"\n\ndata: next\n\n")] == ["next"]
