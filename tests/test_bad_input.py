"""Hostile and broken traffic through a real mitmdump: the proxy stays up, at most one final record."""

from __future__ import annotations

import hashlib
import os
import socket
import time

import httpx
import pytest

from metrics.record import DONE, ERROR, FINAL_STATES
from tests.proxy import FakeUpstreamProcess, FeedReader, Mitmdump, post_raw, proxy_for


@pytest.fixture(scope="module")
def rig():
    upstream = FakeUpstreamProcess()
    proxy = proxy_for(upstream, "lt-bad-").wait_ready()
    yield proxy, upstream, FeedReader(proxy.socket_path)
    proxy.stop()
    upstream.stop()


def finals_for(feed: FeedReader, request_id: str) -> list[dict]:
    feed.final(request_id)
    time.sleep(0.2)  # anything doubled would arrive by now
    return [m for m in feed.messages if m.get("request_id") == request_id and m.get("state") in FINAL_STATES]


def assert_alive(proxy: Mitmdump) -> None:
    assert proxy.proc.poll() is None
    assert httpx.post(f"{proxy.url}/v1/messages", json={"model": "m"}, timeout=10).status_code == 200


def test_random_bytes_as_a_request(rig) -> None:
    proxy, _, feed = rig
    before = len(feed.messages)
    with socket.create_connection(("127.0.0.1", proxy.port)) as conn:
        conn.sendall(os.urandom(4096) + b"\r\n\r\n")
        conn.settimeout(5)
        try:
            answer = conn.recv(65536)
        except (TimeoutError, ConnectionResetError):
            answer = b""
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
    assert_alive(proxy)
    new = feed.messages[before:]
    assert all(m.get("path") != "" for m in new)  # no record for a request that never parsed


def test_a_client_that_connects_and_says_nothing(rig) -> None:
    proxy, _, feed = rig
    before = len(feed.messages)
    idle = socket.create_connection(("127.0.0.1", proxy.port))
    time.sleep(1)
    idle.close()
    assert_alive(proxy)
    assert [m for m in feed.messages[before:] if m.get("type") == "request" and m.get("model") != "m"] == []


def test_content_length_larger_than_the_body(rig) -> None:
    proxy, upstream, feed = rig
    raw, headers = post_raw(proxy, "/v1/messages", "tokens=10;fault=bad_length")
    sent = upstream.exchange(headers["request-id"])
    assert hashlib.sha256(raw).hexdigest() == sent["sent_sha256"]
    (record,) = finals_for(feed, headers["request-id"])
    assert (record["state"], record["error_type"]) == (ERROR, "upstream_disconnected")
    assert_alive(proxy)


def test_sse_that_never_sends_a_newline(rig) -> None:
    proxy, upstream, feed = rig
    raw, headers = post_raw(proxy, "/v1/messages", "fault=no_newline;pieces=300")
    assert hashlib.sha256(raw).hexdigest() == upstream.exchange(headers["request-id"])["sent_sha256"]
    (record,) = finals_for(feed, headers["request-id"])
    assert (record["state"], record["error_type"]) == (ERROR, "incomplete_stream")
    assert_alive(proxy)


def test_a_zero_length_chunked_body(rig) -> None:
    proxy, _, feed = rig
    raw, headers = post_raw(proxy, "/v1/messages", "fault=empty")
    assert raw == b""
    (record,) = finals_for(feed, headers["request-id"])
    assert (record["state"], record["error_type"], record["chunks"]) == (ERROR, "incomplete_stream", 0)
    assert_alive(proxy)


def test_a_50_mb_single_event(rig) -> None:
    proxy, upstream, feed = rig
    raw, headers = post_raw(proxy, "/v1/messages", "tokens=5;big_event_mb=50")
    assert len(raw) > 50 * 2**20
    assert hashlib.sha256(raw).hexdigest() == upstream.exchange(headers["request-id"])["sent_sha256"]
    (record,) = finals_for(feed, headers["request-id"])
    # The oversized event is skipped by the parser; the rest of the stream is measured as usual.
    assert (record["state"], record["output_tokens"]) == (DONE, 5)
    assert_alive(proxy)
