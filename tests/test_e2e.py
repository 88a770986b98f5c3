"""End to end: a real mitmdump with the addon, the official SDKs as clients, the real feed.

The fake upstream (a separate process) stands in for the APIs; everything else is real.
"""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from metrics.record import ABORTED, DONE, ERROR, FINAL_STATES, PENDING, STREAMING
from tests.conftest import fixture_body, requires_fixtures
from tests.proxy import FakeUpstreamProcess, FeedReader, Mitmdump, free_port, post_raw, proxy_for
from tests.test_records import SSE_EXPECTATIONS, fixture_params

SECRET = "sk-ant-test-SECRET-do-not-leak"


@pytest.fixture(scope="module")
def upstream():
    fake = FakeUpstreamProcess()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def proxy(upstream):
    proc = proxy_for(upstream, "lt-e2e-").wait_ready()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def feed(proxy):
    return FeedReader(proxy.socket_path)


@pytest.fixture
def claude(proxy):
    return anthropic.Anthropic(base_url=proxy.url, api_key=SECRET, max_retries=0)


@pytest.fixture
def gpt(proxy):
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=SECRET, max_retries=0)


MESSAGES = [{"role": "user", "content": "Say hello"}]


def assert_usage_matches(record: dict, input_tokens: int, output_tokens: int) -> None:
    assert (record["input_tokens"], record["output_tokens"], record["tokens_estimated"]) == (
        input_tokens,
        output_tokens,
        False,
    )


def estimator_method(proxy: Mitmdump) -> str:
    """The counting method the proxy settled on, from a fresh hello once loading is over."""
    from metrics.feed import iter_feed

    for _ in range(100):
        hello = next(iter_feed(str(proxy.socket_path), timeout=5))
        if hello["estimator_ready"]:
            return hello["estimator"]
        time.sleep(0.1)
    raise TimeoutError("the proxy's token estimator never finished loading")


def expected_estimate(method: str, text: str) -> int:
    """What the proxy's estimator makes of ``text``."""
    if method.startswith("tiktoken:"):
        import tiktoken

        return len(tiktoken.get_encoding(method.split(":", 1)[1]).encode_ordinary(text))
    return -(-len(text) // 4)


# -- the official SDKs -----------------------------------------------------------------------


def test_anthropic_sdk_streaming(claude, feed) -> None:
    with claude.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=MESSAGES,
        extra_headers={"x-fake": "tokens=40;interval_ms=5"},
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["request-id"]
    assert text == "".join(f" w{i}" for i in range(40))
    record = feed.final(request_id)
    assert (
        record["state"],
        record["provider"],
        record["api"],
        record["model"],
        record["stream"],
        record["status"],
        record["stop_reason"],
    ) == (DONE, "anthropic", "messages", "claude-sonnet-4-5", True, 200, "end_turn")
    assert_usage_matches(record, final.usage.input_tokens, final.usage.output_tokens)
    assert record["chunks"] == 40
    assert record["ttft_ms"] < record["duration_ms"]
    assert record["output_tokens_per_s"] > 0 and record["itl_p50_ms"] >= 0
    states = [u["state"] for u in feed.updates(record["id"])]
    assert states[0] == PENDING and STREAMING in states and [s for s in states if s in FINAL_STATES] == [DONE]


def test_anthropic_sdk_non_streaming(claude, feed) -> None:
    message = claude.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES, extra_headers={"x-fake": "tokens=7"}
    )
    record = feed.final(message._request_id)
    assert (record["state"], record["stream"], record["model"], record["stop_reason"]) == (
        DONE,
        False,
        "claude-haiku-4-5",
        "end_turn",
    )
    assert_usage_matches(record, message.usage.input_tokens, 7)


@pytest.mark.parametrize("include_usage", [True, False])
def test_openai_chat_streaming(gpt, proxy, feed, include_usage: bool) -> None:
    method = estimator_method(proxy)
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    stream = gpt.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-fake": "tokens=25;interval_ms=2"},
        **options,
    )
    chunks = list(stream)
    record = feed.final(stream.response.headers["x-request-id"])
    assert (record["state"], record["provider"], record["api"], record["model"], record["chunks"]) == (
        DONE,
        "openai",
        "chat_completions",
        "gpt-4o-mini",
        25,
    )
    if include_usage:
        usage = chunks[-1].usage
        assert chunks[-1].choices == []
        assert_usage_matches(record, usage.prompt_tokens, usage.completion_tokens)
    else:
        assert all(c.usage is None for c in chunks)
        # No usage in the stream: counted from what streamed, and flagged as such.
        assert record["tokens_estimated"] is True
        assert record["output_tokens"] == expected_estimate(method, "".join(f" w{i}" for i in range(25)))
        assert record["input_tokens"] >= 1


def test_openai_chat_non_streaming(gpt, feed) -> None:
    completion = gpt.chat.completions.create(
        model="gpt-4.1", messages=MESSAGES, extra_headers={"x-fake": "tokens=9"}
    )
    record = feed.final(completion._request_id)
    assert (record["state"], record["stream"], record["stop_reason"]) == (DONE, False, "stop")
    assert_usage_matches(record, completion.usage.prompt_tokens, completion.usage.completion_tokens)


def test_openai_responses_streaming_and_not(gpt, feed) -> None:
    stream = gpt.responses.create(
        model="gpt-5", input="Say hello", stream=True, extra_headers={"x-fake": "tokens=12;interval_ms=2"}
    )
    events = list(stream)
    completed = events[-1]
    assert completed.type == "response.completed"
    record = feed.final(stream.response.headers["x-request-id"])
    assert (record["state"], record["api"], record["model"], record["chunks"], record["stop_reason"]) == (
        DONE,
        "responses",
        "gpt-5",
        12,
        "completed",
    )
    assert_usage_matches(
        record, completed.response.usage.input_tokens, completed.response.usage.output_tokens
    )

    response = gpt.responses.create(model="gpt-5", input="Say hello", extra_headers={"x-fake": "tokens=4"})
    record = feed.final(response._request_id)
    assert (record["state"], record["stream"]) == (DONE, False)
    assert_usage_matches(record, response.usage.input_tokens, 4)


def test_sdk_errors_are_error_records_with_rate_limits(claude, gpt, feed) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(
            model="claude-opus-4-1", max_tokens=5, messages=MESSAGES, extra_headers={"x-fake": "status=429"}
        )
    record = feed.final(caught.value.response.headers["request-id"])
    assert (record["state"], record["status"], record["error_type"]) == (ERROR, 429, "rate_limit_error")
    assert record["rate_limits"]["retry-after"] == "7"
    with pytest.raises(openai.InternalServerError) as caught_openai:
        gpt.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers={"x-fake": "status=500"})
    record = feed.final(caught_openai.value.response.headers["x-request-id"])
    assert (record["state"], record["status"], record["error_type"]) == (ERROR, 500, "api_error")


def test_mid_stream_error_event_in_a_200_stream(claude, feed) -> None:
    with (
        pytest.raises(anthropic.APIStatusError),
        claude.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=64,
            messages=MESSAGES,
            extra_headers={"x-fake": "tokens=10;fault=error_event"},
        ) as stream,
    ):
        request_id = stream.response.headers["request-id"]
        list(stream.text_stream)
    record = feed.final(request_id)
    assert (record["state"], record["status"], record["error_type"]) == (ERROR, 200, "overloaded_error")


# -- bytes on the wire -----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["", "gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions", "/v1/responses"])
def test_client_gets_exactly_the_upstream_bytes(proxy, upstream, feed, encoding: str, path: str) -> None:
    fake = f"tokens=30;interval_ms=1;encoding={encoding}" if encoding else "tokens=30;interval_ms=1"
    raw, headers = post_raw(
        proxy, path, fake, b'{"model":"m","stream":true,"stream_options":{"include_usage":true}}'
    )
    request_id = headers["request-id"]
    sent = upstream.exchange(request_id)
    assert hashlib.sha256(raw).hexdigest() == sent["sent_sha256"] and len(raw) == sent["sent_bytes"]
    assert headers.get("content-encoding", "") == encoding
    record = feed.final(request_id)
    assert (record["state"], record["chunks"], record["output_tokens"], record["tokens_estimated"]) == (
        DONE,
        30,
        30,
        False,
    )


@requires_fixtures
@pytest.mark.parametrize("name", fixture_params())
def test_recorded_streams_through_the_proxy(proxy, feed, name: str) -> None:
    api, expected = SSE_EXPECTATIONS[name]
    path = {
        "messages": "/v1/messages",
        "chat_completions": "/v1/chat/completions",
        "responses": "/v1/responses",
    }[api]
    raw, headers = post_raw(proxy, path, f"fixture={name};chunk=64;encoding=gzip")
    import gzip

    assert gzip.decompress(raw) == fixture_body(name)
    record = feed.final(headers["request-id"])
    for field, value in expected.items():
        assert record[field] == value, field


def test_ttft_matches_the_upstreams_own_clock(proxy, upstream, feed) -> None:
    """message_start, ping and the first block go out at once; the first token 300 ms later."""
    _, headers = post_raw(proxy, "/v1/messages", "tokens=5;pause_ms=300")
    sent = upstream.exchange(headers["request-id"])
    upstream_ttft_ms = (sent["first_content_at"] - sent["received_at"]) * 1000
    record = feed.final(headers["request-id"])
    assert 300 <= upstream_ttft_ms < 320
    # Typically 2-5 ms (docs/benchmarks.md); the bound leaves room for a busy shared machine.
    assert abs(record["ttft_ms"] - upstream_ttft_ms) < 25, (record["ttft_ms"], upstream_ttft_ms)
    assert record["ttfb_ms"] < 100


def test_stuck_subscriber_slows_no_one(proxy, upstream, feed) -> None:
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(proxy.socket_path))  # never reads
    try:
        durations = []
        for _ in range(3):
            _, headers = post_raw(proxy, "/v1/chat/completions", "tokens=100;interval_ms=5;pause_ms=50")
            record = feed.final(headers["request-id"])
            sent = upstream.exchange(headers["request-id"])
            durations.append((record["duration_ms"], (sent["ended_at"] - sent["received_at"]) * 1000))
            # The reading subscriber saw the whole life of the request.
            states = [u["state"] for u in feed.updates(record["id"])]
            assert states[0] == PENDING and states[-1] == DONE and states.count(STREAMING) >= 3
            assert abs(record["ttft_ms"] - 50 - 0) < 20
    finally:
        stuck.close()
    # A proxy that waited for the stuck reader would stall for good; allow for a noisy machine.
    extra = sorted(proxied - upstream_ms for proxied, upstream_ms in durations)
    assert extra[1] < 150, durations


def test_client_hang_up_aborts_and_closes_the_upstream(proxy, upstream, feed) -> None:
    started = time.time()
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST",
            f"{proxy.url}/v1/messages",
            content=b'{"model":"claude-x","stream":true}',
            headers={"x-fake": "tokens=1000;interval_ms=10"},
        ) as response,
    ):
        request_id = response.headers["request-id"]
        for _ in response.iter_raw():
            if time.time() - started > 0.3:
                break
    record = feed.final(request_id)
    assert (record["state"], record["error_type"]) == (ABORTED, "client_disconnected")
    assert record["ttft_ms"] is not None and record["chunks"] > 0
    # The upstream saw its connection closed long before its 10 s answer was through.
    time.sleep(0.5)
    sent = upstream.exchange(request_id)
    assert sent["client_gone"] is True
    assert sent["ended_at"] - sent["received_at"] < 3


@pytest.mark.parametrize(
    ("fault", "state", "error_type"),
    [
        ("malformed", ERROR, "incomplete_stream"),
        ("corrupt_encoding", ERROR, "invalid_encoding"),
        ("truncate", ERROR, "upstream_disconnected"),
        ("reset", ERROR, "upstream_disconnected"),
    ],
)
def test_broken_upstream_streams_end_with_one_final_record(
    proxy, upstream, feed, fault, state, error_type
) -> None:
    raw, headers = post_raw(proxy, "/v1/messages", f"tokens=20;fault={fault}")
    request_id = headers["request-id"]
    record = feed.final(request_id)
    assert (record["state"], record["error_type"]) == (state, error_type)
    assert len([u for u in feed.updates(record["id"]) if u["state"] in FINAL_STATES]) == 1
    if fault in ("malformed", "corrupt_encoding"):
        sent = upstream.exchange(request_id)
        assert hashlib.sha256(raw).hexdigest() == sent["sent_sha256"]
    # The proxy is still serving.
    assert httpx.post(f"{proxy.url}/v1/messages", json={"model": "m"}).status_code == 200


def test_the_proxy_listens_on_loopback_only(proxy) -> None:
    from tests.proxy import listening_addresses

    assert listening_addresses(proxy.port) == {"127.0.0.1"}


def test_claude_code_side_requests_pass_through_as_other(proxy, feed) -> None:
    with httpx.Client() as client:
        head = client.head(f"{proxy.url}/")
        count = client.post(
            f"{proxy.url}/v1/messages/count_tokens?beta=true",
            json={"model": "claude-x"},
            headers={"anthropic-version": "2023-06-01"},
        )
    assert head.status_code == 200 and count.json()["input_tokens"] >= 1
    for response, method in ((head, "HEAD"), (count, "POST")):
        record = feed.final(response.headers["request-id"])
        assert (record["state"], record["api"], record["method"]) == (DONE, "other", method)
    assert record["path"] == "/v1/messages/count_tokens"


def test_credentials_never_reach_the_feed_or_the_log(proxy, feed, claude) -> None:
    claude.messages.create(model="claude-x", max_tokens=5, messages=MESSAGES)
    time.sleep(0.3)
    assert "SECRET" not in repr(feed.messages)
    assert "SECRET" not in proxy.log()
    assert "Say hello" not in repr(feed.messages)  # nor prompt text
    assert " w3" not in repr(feed.messages)  # nor completion text


def test_one_summary_line_per_finished_request(proxy, claude, feed) -> None:
    message = claude.messages.create(
        model="claude-summary-check", max_tokens=5, messages=MESSAGES, extra_headers={"x-fake": "tokens=3"}
    )
    feed.final(message._request_id)
    time.sleep(0.3)
    lines = [
        line for line in proxy.log().splitlines() if "claude-summary-check" in line and "livetoken ok" in line
    ]
    assert len(lines) == 1
    assert "status=200" in lines[0] and "out=3" in lines[0]


# -- start-up and unreachable upstreams (their own proxies) ----------------------------------


def start(tmp: Path, upstream: str, **kwargs) -> Mitmdump:
    return Mitmdump(upstream, tmp / "feed.sock", tmp / "mitmdump.log", **kwargs)


def test_unreachable_upstream_gives_502_and_an_error_record(short_tmp: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    proxy = start(short_tmp, dead, env={"ENABLE_CONSOLE": "false"}).wait_ready()
    try:
        reader = FeedReader(proxy.socket_path)
        response = httpx.post(f"{proxy.url}/v1/messages", json={"model": "claude-x"})
        assert response.status_code == 502
        record = reader.wait_for(lambda m: m.get("state") in FINAL_STATES, what="final record")
        assert (record["state"], record["error_type"], record["status"]) == (
            ERROR,
            "upstream_unreachable",
            None,
        )
        time.sleep(0.3)
        assert "livetoken error" not in proxy.log()  # ENABLE_CONSOLE=false: no summary lines
    finally:
        proxy.stop()


def machine_name_loops() -> bool:
    from metrics.routing import is_own_address, resolve_host

    return any(is_own_address(ip) for ip in resolve_host(socket.gethostname()))


MISCONFIGURATIONS = {
    "reverse_to_itself": "is this proxy itself",
    "anthropic_base_url_is_the_proxy": "ANTHROPIC_BASE_URL",
    "base_url_is_the_machine_name": "is this proxy itself",
    "socket_path_is_a_file": "not a socket",
    "bad_set_value": "livetoken_history=abc: expected a whole number",
    "misspelt_option": "unknown option livetoken_histroy",
    "db_is_not_sqlite": "is not a LiveToken history database (not SQLite)",
    "prometheus_port_in_use": "is in use",
}


@pytest.mark.parametrize(("how", "message"), MISCONFIGURATIONS.items())
def test_misconfiguration_stops_start_up_with_a_message(short_tmp: Path, how: str, message: str) -> None:
    port = free_port()
    kwargs: dict = {"port": port}
    upstream = "https://api.anthropic.com"
    if how == "reverse_to_itself":
        upstream = f"http://127.0.0.1:{port}"
    elif how == "anthropic_base_url_is_the_proxy":
        kwargs["env"] = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}"}
    elif how == "base_url_is_the_machine_name":
        if not machine_name_loops():
            pytest.skip(
                f"this machine's name {socket.gethostname()!r} does not resolve to one of its addresses"
            )
        kwargs["env"] = {"ANTHROPIC_BASE_URL": f"http://{socket.gethostname()}:{port}"}
    elif how == "bad_set_value":
        kwargs["sets"] = {"livetoken_history": "abc"}
    elif how == "misspelt_option":
        kwargs["sets"] = {"livetoken_histroy": "5"}
    elif how == "prometheus_port_in_use":
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        kwargs["sets"] = {"livetoken_prometheus": f"127.0.0.1:{taken.getsockname()[1]}"}
    elif how == "db_is_not_sqlite":
        (short_tmp / "notes.db").write_text("my notes, not a database " * 100)
        kwargs["env"] = {"LIVETOKEN_DB": str(short_tmp / "notes.db")}
    else:
        (short_tmp / "feed.sock").write_text("in the way")
    proxy = start(short_tmp, upstream, **kwargs)
    try:
        assert proxy.proc.wait(30) != 0
        assert message in proxy.log()
        assert "Traceback" not in proxy.log()
    finally:
        proxy.stop()


def test_a_request_mitmproxy_refuses_is_a_proxy_error(short_tmp: Path) -> None:
    """A forward proxy asked for its own address: mitmproxy refuses; the record says so."""
    port = free_port()
    proxy = start(short_tmp, "", mode=f"regular@{port}", port=port).wait_ready()
    try:
        reader = FeedReader(proxy.socket_path)
        with httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get(f"http://127.0.0.1:{port}/v1/models").status_code == 502
        record = reader.wait_for(lambda m: m.get("state") in FINAL_STATES, what="final record")
        assert (record["state"], record["error_type"]) == (ERROR, "proxy_error")
        assert "destination unknown" in record["error_message"]
    finally:
        proxy.stop()


def test_shutting_down_mid_stream_ends_the_request_with_a_record(upstream, short_tmp: Path) -> None:
    import signal

    proxy = start(short_tmp, upstream.url).wait_ready()
    reader = FeedReader(proxy.socket_path)
    with httpx.Client(timeout=30) as client:
        try:
            with client.stream(
                "POST",
                f"{proxy.url}/v1/messages",
                json={"model": "m", "stream": True},
                headers={"x-fake": "tokens=200;interval_ms=20"},
            ) as response:
                for i, _ in enumerate(response.iter_raw()):  # the client keeps reading ...
                    if i == 0:
                        reader.wait_for(lambda m: m.get("chunks", 0) > 0, what="first token")
                        proxy.proc.send_signal(signal.SIGINT)  # ... while the proxy goes away
        except httpx.HTTPError:
            pass
    record = reader.wait_for(lambda m: m.get("state") in FINAL_STATES, what="final record")
    assert (record["state"], record["error_type"]) == (ABORTED, "proxy_shutdown")
    assert proxy.proc.wait(10) is not None
    proxy.stop()


def test_forward_proxy_mode(upstream, short_tmp: Path) -> None:
    """Clients that cannot change their base URL use mitmproxy as a regular proxy."""
    port = free_port()
    proxy = start(short_tmp, "", mode=f"regular@{port}", port=port).wait_ready()
    try:
        reader = FeedReader(proxy.socket_path)
        with httpx.Client(proxy=f"http://127.0.0.1:{proxy.port}") as client:
            response = client.post(
                f"{upstream.url}/v1/chat/completions",
                json={"model": "gpt-4o", "stream": True},
                headers={"x-fake": "tokens=6"},
            )
        record = reader.final(response.headers["x-request-id"])
        assert (record["state"], record["provider"], record["api"], record["chunks"]) == (
            DONE,
            "openai",
            "chat_completions",
            6,
        )
        assert upstream.exchange(response.headers["x-request-id"])["path"] == "/v1/chat/completions"
    finally:
        proxy.stop()


def test_livetoken_tail_prints_json_lines(proxy, claude) -> None:
    import json
    import subprocess

    from tests.proxy import BIN, ROOT

    tail = subprocess.Popen(
        [str(BIN / "livetoken"), "tail", "--final", "--socket", str(proxy.socket_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)
        message = claude.messages.create(
            model="claude-tail-check", max_tokens=5, messages=MESSAGES, extra_headers={"x-fake": "tokens=4"}
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = json.loads(tail.stdout.readline())
            assert line["state"] in FINAL_STATES  # --final: nothing in flight
            if line["request_id"] == message._request_id:
                break
        assert (line["type"], line["model"], line["output_tokens"]) == ("request", "claude-tail-check", 4)
    finally:
        tail.terminate()
        tail.wait(5)


def test_ttft_stays_close_to_the_upstreams_clock_under_concurrency(proxy, upstream, feed) -> None:
    """20 streams at once (the figures for 1 and 100 are in docs/benchmarks.md)."""
    from scripts.ttft_accuracy import measure

    errors = measure(proxy, upstream, feed, 20, 300)
    assert len(errors) == 20
    assert all(e > -5 for e in errors)  # t0 is taken before the request goes upstream
    assert sorted(errors)[10] < 150, errors  # median, generous: includes mitmproxy forwarding 20 at once


def test_prometheus_metrics_from_the_running_proxy(upstream, short_tmp: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    metrics_port = free_port()
    proxy = start(
        short_tmp,
        upstream.url,
        env={"OPENAI_BASE_URL": f"{upstream.url}/v1"},
        sets={"livetoken_prometheus": f"127.0.0.1:{metrics_port}"},
    ).wait_ready()
    try:
        reader = FeedReader(proxy.socket_path)
        response = httpx.post(
            f"{proxy.url}/v1/chat/completions",
            headers={"x-fake": "tokens=9"},
            json={"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}},
        )
        record = reader.final(response.headers["x-request-id"])
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
    finally:
        proxy.stop()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    usage = families["gen_ai_client_token_usage"]
    sums = {s.labels["gen_ai_token_type"]: s.value for s in usage.samples if s.name.endswith("_sum")}
    assert sums == {"input": record["input_tokens"], "output": 9}
    assert any(s.labels.get("gen_ai_request_model") == "gpt-4o-mini" for s in usage.samples)
    requests = [s for s in families["livetoken_requests"].samples if s.name == "livetoken_requests_total"]
    assert [(s.labels["state"], s.value) for s in requests] == [("done", 1.0)]
