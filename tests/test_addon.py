"""The addon inside mitmproxy's own test harness (taddons, tflow): routing, streaming, records."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from mitmproxy import exceptions, http
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow, tutils

from livetoken_addon import LiveToken
from metrics import cost
from metrics.record import ABORTED, DONE, ERROR, FINAL_STATES, PENDING, STREAMING
from tests import streams
from tests.proxy import CLEAN_ENV

REVERSE = "reverse:http://127.0.0.1:9@7357"


@pytest.fixture
def harness(short_tmp: Path, monkeypatch):
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIVETOKEN_DB", "")
    assert cost.warm_up().wait(60)  # as after start-up: prices loaded, finals published at once
    addon = LiveToken()
    published: list[dict] = []
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon,
            livetoken_socket=str(short_tmp / "feed.sock"),
            mode=[REVERSE],
            livetoken_openai_upstream="http://127.0.0.1:8/v1",
        )
        addon.feed.publish = lambda record: published.append(record.to_dict())
        yield addon, tctx, published


def assert_one_error_line(caplog, text: str) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name == "livetoken"]
    assert len(errors) == 1 and text in errors[0], errors
    assert caplog.records[-1].exc_info is None  # a message, not a traceback


def make_flow(
    path: str,
    body: bytes = b'{"model":"claude-x","stream":true}',
    headers=(),
    mode: str = REVERSE,
    host: str = "127.0.0.1",
    port: int = 9,
) -> http.HTTPFlow:
    request = tutils.treq(
        method=b"POST",
        path=path.encode(),
        host=host,
        port=port,
        headers=http.Headers([(b"content-type", b"application/json"), *headers]),
        content=body,
    )
    flow = tflow.tflow(req=request)
    flow.client_conn.proxy_mode = ProxyMode.parse(mode)
    return flow


def sse_response(flow: http.HTTPFlow, extra=()) -> None:
    flow.response = tutils.tresp(
        headers=http.Headers([(b"content-type", b"text/event-stream"), *extra]), content=None
    )


def run_stream(addon: LiveToken, flow: http.HTTPFlow, body: bytes, size: int = 9) -> list:
    addon.request(flow)
    sse_response(flow)
    addon.responseheaders(flow)
    stream = flow.response.stream
    assert callable(stream)
    outputs = [stream(body[i : i + size]) for i in range(0, len(body), size)]
    assert stream(b"") == []
    addon.response(flow)
    return outputs


def test_stream_callable_returns_every_chunk_unchanged_and_one_final_record(harness) -> None:
    addon, _, published = harness
    flow = make_flow("/v1/messages?beta=true")
    body = streams.ANTHROPIC_THINKING_TOOL
    outputs = run_stream(addon, flow, body)
    assert b"".join(outputs) == body
    assert all(isinstance(o, bytes) and o for o in outputs)
    states = [p["state"] for p in published]
    assert states[0] == PENDING and STREAMING in states
    assert [s for s in states if s in FINAL_STATES] == [DONE]
    final = published[-1]
    assert (final["api"], final["path"], final["input_tokens"], final["output_tokens"]) == (
        "messages",
        "/v1/messages",
        424,
        119,
    )
    assert addon.trackers == {}


def test_openai_paths_go_to_the_openai_upstream_without_doubling_v1(harness) -> None:
    addon, _, published = harness
    for path in ("/v1/chat/completions", "/v1/responses"):
        flow = make_flow(path, b'{"model":"gpt-5"}')
        addon.request(flow)
        assert (flow.request.host, flow.request.port, flow.request.path) == ("127.0.0.1", 8, path)
        assert published[-1]["provider"] == "openai"


def test_anthropic_and_other_paths_stay_on_the_reverse_target(harness) -> None:
    addon, _, published = harness
    for method, path, api in (
        ("POST", "/v1/messages", "messages"),
        ("POST", "/v1/messages/count_tokens?beta=true", "other"),
        ("HEAD", "/", "other"),
    ):
        flow = make_flow(path)
        flow.request.method = method
        addon.request(flow)
        assert (flow.request.host, flow.request.port, flow.request.path) == ("127.0.0.1", 9, path)
        assert (published[-1]["provider"], published[-1]["api"]) == ("anthropic", api)


def test_anthropic_upstream_option_overrides_the_reverse_target(harness) -> None:
    addon, tctx, _ = harness
    tctx.configure(addon, livetoken_anthropic_upstream="https://proxy.example:8443/v1")
    flow = make_flow("/v1/messages")
    addon.request(flow)
    assert (flow.request.scheme, flow.request.host, flow.request.port, flow.request.path) == (
        "https",
        "proxy.example",
        8443,
        "/v1/messages",
    )


def test_forward_mode_leaves_the_destination_alone(harness) -> None:
    addon, _, published = harness
    flow = make_flow("/v1/models", b"", mode="regular", host="api.openai.com", port=443)
    addon.request(flow)
    assert (flow.request.host, flow.request.port) == ("api.openai.com", 443)
    assert (published[-1]["provider"], published[-1]["api"]) == ("openai", "other")


@pytest.mark.parametrize(
    ("key", "gets_it", "header", "value"),
    [
        ("sk-ant-api03-secret", "/v1/messages", "x-api-key", "sk-ant-api03-secret"),
        ("sk-proj-secret", "/v1/chat/completions", "authorization", "Bearer sk-proj-secret"),
    ],
)
def test_api_key_goes_only_to_its_provider_and_only_without_a_credential(
    harness, key, gets_it, header, value
) -> None:
    addon, tctx, published = harness
    tctx.configure(addon, livetoken_api_key=key)
    for path in ("/v1/messages", "/v1/chat/completions", "/v1/responses"):
        flow = make_flow(path)
        addon.request(flow)
        added = {h for h in ("x-api-key", "authorization") if h in flow.request.headers}
        if path == gets_it or (gets_it != "/v1/messages" and path == "/v1/responses"):
            assert flow.request.headers[header] == value
        else:
            assert added == set(), path  # one provider's key never goes to the other
    own = make_flow(gets_it, headers=[(b"authorization", b"Bearer mine")])
    addon.request(own)
    assert own.request.headers["authorization"] == "Bearer mine" and "x-api-key" not in own.request.headers
    assert "secret" not in repr(published)


def test_non_streaming_body_and_non_json_request(harness) -> None:
    addon, _, published = harness
    flow = make_flow("/v1/chat/completions", b"\x00\x01 not json")
    addon.request(flow)
    flow.response = tutils.tresp(
        headers=http.Headers([(b"content-type", b"application/json")]),
        content=b'{"model":"gpt-5","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}',
    )
    addon.responseheaders(flow)
    assert flow.response.stream is False
    addon.response(flow)
    final = published[-1]
    assert (final["state"], final["model"], final["input_tokens"], final["output_tokens"]) == (
        DONE,
        "gpt-5",
        3,
        4,
    )


async def test_client_hang_up_is_aborted_and_unreachable_upstream_is_an_error(harness) -> None:
    addon, _, published = harness
    flow = make_flow("/v1/messages")
    addon.request(flow)
    sse_response(flow)
    addon.responseheaders(flow)
    flow.response.stream(streams.ANTHROPIC_THINKING_TOOL[:600])
    flow.error = tflow.flow.Error("Client disconnected.")
    addon.error(flow)
    # The cut-off answer has no closing usage: its tokens are counted off the event loop.
    for _ in range(100):
        if published[-1]["state"] in FINAL_STATES:
            break
        await asyncio.sleep(0.01)
    assert (published[-1]["state"], published[-1]["error_type"]) == (ABORTED, "client_disconnected")
    assert published[-1]["tokens_estimated"] is True and published[-1]["input_tokens"] == 424
    assert [p["state"] for p in published].count(ABORTED) == 1

    flow = make_flow("/v1/chat/completions")
    addon.request(flow)
    flow.error = tflow.flow.Error("Connection refused")
    addon.error(flow)
    assert (published[-1]["state"], published[-1]["error_type"], published[-1]["error_message"]) == (
        ERROR,
        "upstream_unreachable",
        "Connection refused",
    )


def test_a_failure_inside_livetoken_never_reaches_the_traffic(harness, monkeypatch, caplog) -> None:
    addon, _, published = harness
    flow = make_flow("/v1/messages")
    addon.request(flow)
    sse_response(flow)
    addon.responseheaders(flow)
    tracker = addon.trackers[flow.id]
    tracker._sse = "not a decoder"  # any bug inside the measurement
    assert flow.response.stream(b"data: x\n\n") == b"data: x\n\n"
    assert flow.response.stream(b"more") == b"more"
    assert "internal error" in caplog.text
    addon.response(flow)
    assert published[-1]["state"] in FINAL_STATES


def test_summary_line_per_finished_request_unless_disabled(harness, caplog) -> None:
    addon, tctx, _ = harness
    caplog.set_level(logging.INFO, logger="livetoken")
    run_stream(addon, make_flow("/v1/messages"), streams.ANTHROPIC_THINKING_TOOL)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("livetoken ok")]
    assert len(lines) == 1
    assert "claude-sonnet-4-20250514" in lines[0] and "in=424" in lines[0] and "out=119" in lines[0]
    caplog.clear()
    tctx.configure(addon, livetoken_console=False)
    run_stream(addon, make_flow("/v1/messages"), streams.ANTHROPIC_THINKING_TOOL)
    assert not [r for r in caplog.records if r.getMessage().startswith("livetoken ")]


@pytest.mark.parametrize(
    ("options", "advice"),
    [
        ({"mode": ["reverse:http://127.0.0.1:7357@7357"]}, "--mode reverse: target"),
        (
            {
                "mode": ["reverse:https://api.anthropic.com@7357"],
                "livetoken_openai_upstream": "http://localhost:7357/v1",
            },
            "OPENAI_BASE_URL",
        ),
        (
            {
                "mode": ["reverse:https://api.anthropic.com@7357"],
                "livetoken_anthropic_upstream": "http://127.0.0.1:7357",
            },
            "ANTHROPIC_BASE_URL",
        ),
    ],
)
def test_an_upstream_that_is_the_proxy_itself_is_refused(harness, options, advice, caplog) -> None:
    addon, tctx, _ = harness
    # At start-up: one error line naming the culprit, which makes mitmdump exit (see test_e2e).
    tctx.configure(addon, **options)
    assert_one_error_line(caplog, "is this proxy itself")
    assert advice in caplog.records[-1].getMessage()
    # At run time: the change is refused and rolled back.
    addon._running = True
    with pytest.raises(exceptions.OptionsError, match="is this proxy itself"):
        tctx.configure(addon, **options)


def test_an_unusable_socket_path_is_refused(harness, short_tmp: Path, caplog) -> None:
    addon, tctx, _ = harness
    (short_tmp / "plain").write_text("x")
    tctx.configure(addon, livetoken_socket=str(short_tmp / "plain"))
    assert_one_error_line(caplog, "not a socket")


def test_environment_misconfiguration_is_reported(monkeypatch, short_tmp: Path, caplog) -> None:
    monkeypatch.setenv("MAX_HISTORY", "many")
    addon = LiveToken()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, livetoken_socket=str(short_tmp / "feed.sock"))
    assert_one_error_line(caplog, "MAX_HISTORY")


def test_api_key_beyond_loopback_needs_an_explicit_yes(harness, caplog) -> None:
    addon, tctx, _ = harness
    tctx.configure(addon, livetoken_api_key="sk-ant-x", listen_host="0.0.0.0")
    assert_one_error_line(caplog, "anyone who reaches it would spend your key")
    caplog.clear()
    tctx.configure(addon, livetoken_allow_remote_key=True)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
