"""Which API a path is, and where its upstream is."""

from __future__ import annotations

import pytest

from metrics.config import read_env
from metrics.routing import Upstream, classify


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/messages", ("anthropic", "messages")),
        ("/v1/messages?beta=true", ("anthropic", "messages")),
        ("/messages", ("anthropic", "messages")),
        ("/v1/chat/completions", ("openai", "chat_completions")),
        ("/api/v1/chat/completions", ("openai", "chat_completions")),
        ("/v1/responses", ("openai", "responses")),
        ("/v1/messages/count_tokens?beta=true", ("anthropic", "other")),
        ("/v1/responses/resp_123", ("unknown", "other")),
        ("/", ("unknown", "other")),
    ],
)
def test_classify(path: str, expected: tuple[str, str]) -> None:
    assert classify(path) == expected


def test_other_paths_take_the_provider_from_headers_or_host() -> None:
    assert classify("/v1/models", {"anthropic-version": "2023-06-01"}) == ("anthropic", "other")
    assert classify("/v1/models", {"authorization": "Bearer sk-proj-1"}) == ("openai", "other")
    assert classify("/v1/models", {"authorization": "Bearer sk-ant-oat01-x"}) == ("unknown", "other")
    assert classify("/v1/models", {}, host="api.openai.com") == ("openai", "other")


@pytest.mark.parametrize(
    ("url", "path", "expected"),
    [
        ("https://api.openai.com", "/v1/chat/completions", "/v1/chat/completions"),
        ("https://api.openai.com/v1", "/v1/chat/completions", "/v1/chat/completions"),
        ("https://api.openai.com/v1/", "/v1/responses", "/v1/responses"),
        ("https://openrouter.ai/api/v1", "/v1/chat/completions", "/api/v1/chat/completions"),
    ],
)
def test_base_url_with_or_without_v1_never_doubles_it(url: str, path: str, expected: str) -> None:
    assert Upstream.parse(url).path_for(path) == expected


def test_upstream_parse() -> None:
    up = Upstream.parse("http://127.0.0.1:9000/v1")
    assert (up.scheme, up.host, up.port) == ("http", "127.0.0.1", 9000)
    assert Upstream.parse("https://api.anthropic.com").port == 443
    with pytest.raises(ValueError, match="http"):
        Upstream.parse("api.openai.com")


@pytest.mark.parametrize(
    ("url", "listen", "loops"),
    [
        ("http://127.0.0.1:7357", ("", 7357), True),
        ("http://localhost:7357", ("127.0.0.1", 7357), True),
        ("http://[::1]:7357", ("0.0.0.0", 7357), True),
        ("http://127.0.0.1:7358", ("", 7357), False),
        ("https://api.anthropic.com", ("", 443), False),
    ],
)
def test_self_loop_detection(url: str, listen: tuple[str, int], loops: bool) -> None:
    assert Upstream.parse(url).is_address(*listen) is loops


def test_environment_defaults() -> None:
    env = read_env(
        {
            "OPENAI_BASE_URL": "http://x:1/v1",
            "ENABLE_CONSOLE": "false",
            "MAX_HISTORY": "5",
            "API_KEY": "k",
            "LIVETOKEN_SOCKET": "/tmp/s",
            "ANTHROPIC_BASE_URL": "http://y:2",
        }
    )
    assert (
        env.openai_upstream,
        env.console,
        env.history,
        env.api_key,
        env.socket,
        env.anthropic_upstream,
    ) == ("http://x:1/v1", False, 5, "k", "/tmp/s", "http://y:2")
    defaults = read_env({})
    assert (defaults.openai_upstream, defaults.console, defaults.history, defaults.port) == (
        "https://api.openai.com",
        True,
        100,
        7357,
    )
    bad = read_env({"MAX_HISTORY": "lots", "ENABLE_CONSOLE": "maybe"})
    assert len(bad.errors) == 2 and any("MAX_HISTORY" in e for e in bad.errors)
