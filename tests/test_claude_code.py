"""Claude Code's own request sequence through the launcher's proxy: bytes untouched, records right."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from livetoken.fake_upstream import serve
from livetoken.launcher import Proxy, ProxySettings
from metrics.record import DONE
from tests.conftest import FIXTURES
from tests.proxy import FeedReader, free_port

OAUTH = "Bearer sk-ant-oat01-CLAUDE-CODE-TOKEN-must-not-leak"
# What Claude Code 2.x sends (from ../shared/fixtures/public/anthropic_429_rate_limit_error.json).
CLAUDE_CODE_HEADERS = {
    "accept": "application/json",
    "anthropic-beta": "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
    "fine-grained-tool-streaming-2025-05-14",
    "anthropic-dangerous-direct-browser-access": "true",
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
    "user-agent": "claude-cli/2.0.33 (external, cli)",
    "x-app": "cli",
    "x-stainless-arch": "x64",
    "x-stainless-helper-method": "stream",
    "x-stainless-lang": "js",
    "x-stainless-os": "Linux",
    "x-stainless-package-version": "0.66.0",
    "x-stainless-retry-count": "0",
    "x-stainless-runtime": "node",
    "x-stainless-runtime-version": "v24.3.0",
    "x-stainless-timeout": "600",
    "accept-encoding": "gzip, deflate, br, zstd",
    "authorization": OAUTH,
}


def recorded_headers() -> dict[str, str]:
    recorded = FIXTURES / "anthropic_429_rate_limit_error.json"
    if not recorded.exists():
        return CLAUDE_CODE_HEADERS
    headers = json.loads(recorded.read_text())["request"]["headers_excluding_authorization"]
    skip = {"host", "content-length", "connection"}
    return {k.lower(): v for k, v in headers.items() if k.lower() not in skip} | {"authorization": OAUTH}


@pytest.fixture
def launched(short_tmp: Path):
    upstream = serve(fixtures=FIXTURES if FIXTURES.is_dir() else None)
    url = f"http://127.0.0.1:{upstream.server_port}"
    settings = ProxySettings(
        port=free_port(),
        anthropic_upstream=url,
        openai_upstream=url + "/v1",
        socket=str(short_tmp / "feed.sock"),
        log_path=short_tmp / "proxy.log",
        env={"LIVETOKEN_DB": ""},
    )
    proxy = Proxy(settings).wait_ready()
    yield settings, upstream, FeedReader(Path(settings.socket_path))
    proxy.stop()
    upstream.shutdown()


def test_claude_code_sequence(launched) -> None:
    settings, upstream, feed = launched
    headers = recorded_headers()
    if FIXTURES.is_dir():
        answer = (
            "fixture=anthropic_claude_code_thinking_cache_write.sse;encoding=gzip;ratelimit=unified;chunk=512"
        )
        expected = {
            "model": "claude-haiku-4-5-20251001",
            "input_tokens": 10423,
            "cache_write_tokens": 10415,
            "cache_read_tokens": 0,
            "output_tokens": 329,
        }
    else:
        answer = "thinking=30;tokens=40;cache_write=10415;encoding=gzip;ratelimit=unified"
        expected = {"model": "claude-haiku-4-5-20251001", "cache_write_tokens": 10415, "output_tokens": 70}
    body = {
        "model": "claude-haiku-4-5-20251001",
        "max_tokens": 32000,
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 30000},
        "messages": [{"role": "user", "content": "Fix the failing test"}],
    }
    with httpx.Client(base_url=settings.url, timeout=30) as client:
        head = client.head("/", headers={"user-agent": headers["user-agent"]})
        count = client.post("/v1/messages/count_tokens?beta=true", json=body, headers=headers)
        with client.stream(
            "POST", "/v1/messages?beta=true", json=body, headers={**headers, "x-fake": answer}
        ) as r:
            raw = b"".join(r.iter_raw())
            response_headers = r.headers
    assert head.status_code == 200 and count.status_code == 200 and count.json()["input_tokens"] > 0

    # The client got exactly what the upstream sent: gzip-encoded SSE, untouched.
    sent = upstream.log[-1]
    assert response_headers["content-encoding"] == "gzip"
    assert hashlib.sha256(raw).hexdigest() == sent.sent_sha256
    assert b"event: message_start" in gzip.decompress(raw)
    # Every request passed through with its path, query and Claude Code's headers.
    assert [(e.method, e.path) for e in upstream.log] == [
        ("HEAD", "/"),
        ("POST", "/v1/messages/count_tokens?beta=true"),
        ("POST", "/v1/messages?beta=true"),
    ]
    forwarded = {k.lower(): v for k, v in sent.headers.items()}
    for name in (
        "anthropic-beta",
        "anthropic-version",
        "x-stainless-helper-method",
        "authorization",
        "accept-encoding",
    ):
        assert forwarded[name] == headers[name]

    record = feed.final(response_headers["request-id"])
    assert (record["state"], record["api"], record["provider"], record["path"]) == (
        DONE,
        "messages",
        "anthropic",
        "/v1/messages",
    )
    for name, value in expected.items():
        assert record[name] == value, name
    assert record["tokens_estimated"] is False
    assert 0 < record["ttft_ms"] < record["duration_ms"]
    assert record["rate_limits"]["anthropic-ratelimit-unified-status"] == "allowed"
    assert record["rate_limits"]["anthropic-ratelimit-unified-5h-utilization"] == "0.42"
    others = [feed.final(r.headers["request-id"]) for r in (head, count)]
    assert [(o["api"], o["method"], o["state"]) for o in others] == [
        ("other", "HEAD", DONE),
        ("other", "POST", DONE),
    ]
    assert "CLAUDE-CODE-TOKEN" not in repr(feed.messages)
    assert "CLAUDE-CODE-TOKEN" not in Path(settings.log_path).read_text()
