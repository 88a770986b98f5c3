"""Timing, states and estimation of one request, on a scripted monotonic clock."""

from __future__ import annotations

import pytest

from metrics.estimate import APPROX_METHOD, TokenEstimator
from metrics.record import ABORTED, DONE, ERROR, STREAMING
from metrics.tracker import PUBLISH_INTERVAL_S
from tests import streams
from tests.conftest import TIKTOKEN_CACHE
from tests.drive import new_tracker, stream_record


def text_event(text: str) -> bytes:
    return (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"' + text.encode() + b'"}}\n\n'
    )


START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-x",'
    b'"usage":{"input_tokens":10,"output_tokens":1}}}\n\nevent: ping\ndata: {"type":"ping"}\n\n'
)
END = (
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":11}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def test_timing_fields_follow_the_definitions() -> None:
    tracker = new_tracker("messages")
    tracker.on_response_headers(200, {"content-type": "text/event-stream"}, 100.040)
    assert tracker.record.state == STREAMING
    tracker.on_chunk(START, 100.050)  # message_start and ping are not content
    arrivals = [100.300, 100.320, 100.340, 100.400, 100.420]
    for t in arrivals:
        tracker.on_chunk(text_event("tok") + text_event("en"), t)  # two content events per chunk
    tracker.on_chunk(END, 100.500)
    tracker.on_stream_end(100.501)
    record = tracker.finish(100.502)
    assert record.ttfb_ms == pytest.approx(40.0)
    assert record.ttft_ms == pytest.approx(300.0)
    assert record.duration_ms == pytest.approx(502.0)
    assert record.chunks == 10
    assert record.output_tokens == 11
    # (11 - 1) tokens over 0.120 s between first and last content.
    assert record.output_tokens_per_s == pytest.approx(10 / 0.120, rel=1e-4)
    assert record.tpot_ms == pytest.approx(12.0, rel=1e-4)
    # Gaps between content-bearing chunks: 20, 20, 60, 20 ms.
    assert record.itl_p50_ms == pytest.approx(20.0)
    assert record.itl_max_ms == pytest.approx(60.0)
    assert record.itl_p95_ms == pytest.approx(54.0)
    assert record.state == DONE


def test_speed_is_null_under_two_tokens() -> None:
    body = START + text_event("hi") + END.replace(b'"output_tokens":11', b'"output_tokens":1')
    record, _ = stream_record("messages", [body])
    assert record.output_tokens == 1
    assert record.output_tokens_per_s is None and record.tpot_ms is None


def test_updates_are_due_on_first_token_then_throttled() -> None:
    tracker = new_tracker("messages")
    tracker.on_response_headers(200, {"content-type": "text/event-stream"}, 100.0)
    assert tracker.on_chunk(START, 100.01) is False
    assert tracker.on_chunk(text_event("a"), 100.02) is True  # first token: publish now
    tracker.snapshot(100.02)
    assert tracker.on_chunk(text_event("b"), 100.03) is False
    assert tracker.on_chunk(text_event("c"), 100.02 + PUBLISH_INTERVAL_S) is True


def test_live_snapshot_estimates_output_and_speed() -> None:
    tracker = new_tracker("messages")
    tracker.on_response_headers(200, {"content-type": "text/event-stream"}, 100.0)
    tracker.on_chunk(START, 100.01)
    tracker.on_chunk(text_event("abcd" * 10), 100.1)
    tracker.on_chunk(text_event("abcd" * 10), 100.2)
    record = tracker.snapshot(100.2)
    assert record.state == STREAMING
    assert record.input_tokens == 10  # exact, from message_start
    assert record.output_tokens == 20 and record.tokens_estimated is True
    assert record.output_tokens_per_s == pytest.approx(190.0)


def test_stream_without_final_event_is_an_error() -> None:
    record, _ = stream_record("messages", [START + text_event("partial")])
    assert record.state == ERROR
    assert record.error_type == "incomplete_stream"
    # The cut-off stream carried no closing usage: output is estimated from what arrived.
    assert record.input_tokens == 10
    assert record.tokens_estimated is True and record.output_tokens == 2


def test_corrupt_compressed_body_ends_in_error_and_never_raises() -> None:
    record, _ = stream_record(
        "messages", [b"\x1f\x8b\x08\x00garbage" * 3], headers={"content-encoding": "gzip"}
    )
    assert record.state == ERROR and record.error_type == "invalid_encoding"


def test_unknown_content_encoding_ends_in_error() -> None:
    record, _ = stream_record("messages", [START + END], headers={"content-encoding": "compress"})
    assert record.state == ERROR and record.error_type == "invalid_encoding"


def test_malformed_events_are_skipped() -> None:
    garbage = b"data: {not json\n\nevent: content_block_delta\ndata: [1,2]\n\ndata: \xff\n\n"
    record, tracker = stream_record("messages", [garbage + START + text_event("x") + END])
    assert record.state == DONE and record.output_tokens == 11
    assert tracker.interpreter.facts.malformed_events == 3


def test_client_abort_is_aborted_with_partial_metrics() -> None:
    tracker = new_tracker("messages")
    tracker.on_response_headers(200, {"content-type": "text/event-stream"}, 100.0)
    tracker.on_chunk(START + text_event("abcdefgh"), 100.2)
    record = tracker.fail(100.3, "client_disconnected", "Client disconnected.", aborted=True)
    assert record.state == ABORTED
    assert record.error_type == "client_disconnected"
    assert record.ttft_ms == pytest.approx(200.0) and record.duration_ms == pytest.approx(300.0)


def test_upstream_unreachable_is_an_error_without_status() -> None:
    tracker = new_tracker("chat_completions", "openai")
    record = tracker.fail(100.1, "upstream_unreachable", "Connection refused")
    assert (record.state, record.status, record.error_type) == (ERROR, None, "upstream_unreachable")


def test_error_event_wins_over_a_later_disconnect() -> None:
    tracker = new_tracker("messages")
    tracker.on_response_headers(200, {"content-type": "text/event-stream"}, 100.0)
    tracker.on_chunk(streams.ANTHROPIC_ERROR_EVENT, 100.1)
    record = tracker.fail(100.2, "upstream_disconnected", "Server disconnected.")
    assert record.error_type == "overloaded_error"


def test_http_error_without_json_body() -> None:
    tracker = new_tracker("messages")
    tracker.on_response_headers(502, {"content-type": "text/html"}, 100.1)
    tracker.on_body(b"<html>Bad gateway</html>")
    record = tracker.finish(100.2)
    assert (record.state, record.error_type) == (ERROR, "http_502")


# -- estimation ----------------------------------------------------------------------------

REQUEST = (
    b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Tell me about foxes."}]}'
)


def test_no_usage_is_estimated_with_the_rough_fallback_without_an_encoding() -> None:
    record, _ = stream_record(
        "chat_completions", [streams.OPENAI_CHAT_NO_USAGE], provider="openai", request_body=REQUEST
    )
    text = "The quick brown fox jumps over the lazy dog."
    assert record.tokens_estimated is True
    assert record.output_tokens == -(-len(text) // 4)
    assert record.state == DONE


def test_exact_usage_always_wins_over_estimation() -> None:
    record, _ = stream_record(
        "chat_completions",
        [streams.OPENAI_CHAT_REASONING_USAGE],
        provider="openai",
        request_body=REQUEST,
        estimator=TokenEstimator(),
    )
    assert record.tokens_estimated is False and record.output_tokens == 75


def test_estimator_without_any_encoding_says_so(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty cache ...
    estimator = TokenEstimator(encoding_name="no_such_encoding")  # ... and an unknown encoding
    estimator.start().loaded.wait(30)
    assert estimator.method == APPROX_METHOD and estimator.failure
    assert estimator.count("x" * 40) == 10


@pytest.mark.skipif(not TIKTOKEN_CACHE.is_dir(), reason="no offline tiktoken cache in ../shared")
def test_no_usage_is_counted_with_tiktoken(monkeypatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(TIKTOKEN_CACHE))
    estimator = TokenEstimator().start()
    assert estimator.loaded.wait(60)
    assert estimator.method == "tiktoken:o200k_base", estimator.failure
    import tiktoken

    encoding = tiktoken.get_encoding("o200k_base")
    record, _ = stream_record(
        "chat_completions",
        [streams.OPENAI_CHAT_NO_USAGE],
        provider="openai",
        request_body=REQUEST,
        estimator=estimator,
    )
    assert record.tokens_estimated is True
    assert record.output_tokens == len(encoding.encode("The quick brown fox jumps over the lazy dog."))
    assert record.input_tokens == len(encoding.encode("Tell me about foxes."))
