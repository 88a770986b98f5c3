"""The Prometheus exporter: a real /metrics server, fetched over HTTP and read with prometheus-client's
own parser, against a hand computation over known records (tests/export_records.py)."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics.prometheus import PortInUseError, PrometheusExporter, PrometheusStartError, parse_address
from metrics.semconv import MAX_MODELS
from tests import export_records as known
from tests.conftest import ROOT

Samples = dict[str, list[Any]]  # sample name → samples


@pytest.fixture
def exporter() -> Iterator[PrometheusExporter]:
    exp = PrometheusExporter("127.0.0.1:0")
    exp.start()
    yield exp
    exp.close()


def scrape(exporter: PrometheusExporter) -> Samples:
    response = httpx.get(exporter.url, timeout=10)
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: Samples, name: str, labels: dict[str, str]) -> float:
    matches = [s.value for s in samples.get(name, []) if s.labels == labels]
    assert len(matches) == 1, f"{name}{labels}: {len(matches)} samples"
    return matches[0]


def label_sets(samples: Samples, name: str) -> list[dict[str, str]]:
    return [s.labels for s in samples.get(name, [])]


def buckets(samples: Samples, name: str, labels: dict[str, str]) -> dict[float, float]:
    """Cumulative bucket counts of one series, by upper bound."""
    found = {}
    for sample in samples.get(f"{name}_bucket", []):
        rest = {k: v for k, v in sample.labels.items() if k != "le"}
        if rest == labels:
            found[float(sample.labels["le"])] = sample.value
    return found


def observe_all(exporter: PrometheusExporter) -> None:
    for rec in known.RECORDS:
        exporter.observe(rec)


def check_histogram(samples: Samples, name: str, expected: list[tuple[dict[str, str], known.Hist]]) -> None:
    for labels, hist in expected:
        assert value(samples, f"{name}_count", labels) == hist.count, (name, labels)
        assert value(samples, f"{name}_sum", labels) == pytest.approx(hist.sum), (name, labels)
        got = buckets(samples, name, labels)
        for le, count in hist.le.items():
            assert got[le] == count, (name, labels, le)
    # No other series: records without the value (None) must not have filled this histogram.
    assert sorted(sorted(labels.items()) for labels in label_sets(samples, f"{name}_count")) == sorted(
        sorted(labels.items()) for labels, _ in expected
    )


def test_histograms_match_a_hand_computation(exporter: PrometheusExporter) -> None:
    observe_all(exporter)
    samples = scrape(exporter)
    for name, expected in (
        ("gen_ai_server_time_to_first_token_seconds", known.TIME_TO_FIRST_TOKEN),
        ("gen_ai_server_time_per_output_token_seconds", known.TIME_PER_OUTPUT_TOKEN),
        ("gen_ai_client_operation_duration_seconds", known.OPERATION_DURATION),
    ):
        check_histogram(samples, name, [(series.prometheus(), h) for series, h in expected.items()])
    token_usage = [
        ({**series.prometheus(), "gen_ai_token_type": kind, "tokens_estimated": str(est).lower()}, h)
        for (series, kind, est), h in known.TOKEN_USAGE.items()
    ]
    check_histogram(samples, "gen_ai_client_token_usage", token_usage)


def test_counters_match_a_hand_computation(exporter: PrometheusExporter) -> None:
    observe_all(exporter)
    samples = scrape(exporter)
    for series, count in known.REQUESTS.items():
        assert value(samples, "livetoken_requests_total", series.prometheus()) == count, series
    assert sum(s.value for s in samples["livetoken_requests_total"]) == 7  # the streaming one is ignored
    for series, cost in known.COST_USD.items():
        assert value(samples, "livetoken_cost_usd_total", series.prometheus()) == pytest.approx(cost)
    # Unpriced records (cost_usd None) add no cost series at all, not a zero.
    assert len(samples["livetoken_cost_usd_total"]) == len(known.COST_USD)


def test_bucket_boundaries_are_the_conventions(exporter: PrometheusExporter) -> None:
    observe_all(exporter)
    samples = scrape(exporter)
    for name, spec in (
        ("gen_ai_client_token_usage", "token_usage"),
        ("gen_ai_client_operation_duration_seconds", "operation_duration"),
        ("gen_ai_server_time_to_first_token_seconds", "time_to_first_token"),
        ("gen_ai_server_time_per_output_token_seconds", "time_per_output_token"),
    ):
        bounds = {float(s.labels["le"]) for s in samples[f"{name}_bucket"]}
        assert bounds == {*map(float, known.SPEC_BUCKETS[spec]), math.inf}, name


def test_families_have_histogram_and_counter_types(exporter: PrometheusExporter) -> None:
    observe_all(exporter)
    text = httpx.get(exporter.url, timeout=10).text
    # prometheus-client adds a *_created gauge beside each counter and histogram; leave those out.
    types = {f.name: f.type for f in text_string_to_metric_families(text) if not f.name.endswith("_created")}
    assert types == {
        "gen_ai_client_token_usage": "histogram",
        "gen_ai_client_operation_duration_seconds": "histogram",
        "gen_ai_server_time_to_first_token_seconds": "histogram",
        "gen_ai_server_time_per_output_token_seconds": "histogram",
        "livetoken_requests": "counter",
        "livetoken_cost_usd": "counter",
    }  # its own registry: no process_* or python_gc_* collectors of the global one


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        exporter = PrometheusExporter(f"127.0.0.1:{port}")
        with pytest.raises(PortInUseError) as caught:
            exporter.start()
    assert isinstance(caught.value, OSError)
    message = str(caught.value)
    assert message.startswith(f"port {port} on 127.0.0.1 is in use")
    assert "livetoken_prometheus" in message  # says what to change


def test_unknown_host_is_a_clear_error() -> None:
    exporter = PrometheusExporter("192.0.2.1:0")  # TEST-NET-1: never an address of this machine
    with pytest.raises(PrometheusStartError, match="not an address of this machine"):
        exporter.start()


def test_close_stops_serving() -> None:
    exporter = PrometheusExporter(":0")
    exporter.start()
    url = exporter.url
    assert httpx.get(url, timeout=10).status_code == 200
    exporter.close()
    exporter.close()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=10)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("9464", ("127.0.0.1", 9464)),
        (":9464", ("127.0.0.1", 9464)),
        (" 127.0.0.1:9464 ", ("127.0.0.1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        ("localhost:9000", ("localhost", 9000)),
        ("[::1]:9464", ("::1", 9464)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
    ],
)
def test_parse_address(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    ("address", "hint"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("127.0.0.1", "no valid port"),
        ("127.0.0.1:", "no valid port"),
        ("127.0.0.1:65536", "no valid port"),
        ("127.0.0.1:-1", "no valid port"),
        ("host:port", "no valid port"),
        ("http://127.0.0.1:9464", "no scheme or path"),
        ("127.0.0.1:9464/metrics", "no scheme or path"),
        ("::1:9464", "IPv6 host in brackets"),
        ("[]:9464", "empty brackets"),
    ],
)
def test_bad_address_is_a_value_error_saying_the_form(address: str, hint: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT|brackets") as caught:
        PrometheusExporter(address)
    assert hint in str(caught.value)


def test_client_chosen_models_cannot_grow_series_without_bound() -> None:
    exporter = PrometheusExporter(":0")  # never started: the registry alone
    for n in range(MAX_MODELS + 50):
        exporter.observe(known.record(id=str(n), state="done", provider="openai", api="chat_completions",
                                      model=f"model-{n}", duration_ms=10.0))  # fmt: skip
    samples: Samples = {}
    for family in text_string_to_metric_families(generate_latest(exporter.registry).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    by_model = {s.labels["gen_ai_request_model"]: s.value for s in samples["livetoken_requests_total"]}
    assert len(by_model) == MAX_MODELS + 1
    assert by_model["_OTHER"] == 50
    assert by_model["model-0"] == 1


def test_observe_never_raises_and_ignores_nonsense(exporter: PrometheusExporter) -> None:
    weird = SimpleNamespace(
        state="done", api="messages", provider=123, model=["x"], duration_ms="slow",
        ttft_ms=math.nan, tpot_ms=-1.0, input_tokens=True, output_tokens=math.inf, cost_usd=-5,
    )  # fmt: skip
    exporter.observe(weird)
    exporter.observe(None)
    exporter.observe(object())
    samples = scrape(exporter)
    unknown = {
        "gen_ai_operation_name": "chat", "gen_ai_provider_name": "unknown", "gen_ai_request_model": "",
        "api": "messages", "state": "done", "error_type": "",
    }  # fmt: skip
    assert value(samples, "livetoken_requests_total", unknown) == 1
    # None of the nonsense numbers reached a histogram or the cost counter.
    for name in (
        "gen_ai_client_operation_duration_seconds_count",
        "gen_ai_server_time_to_first_token_seconds_count",
        "gen_ai_server_time_per_output_token_seconds_count",
        "gen_ai_client_token_usage_count",
        "livetoken_cost_usd_total",
    ):
        assert name not in samples


def test_observe_swallows_an_internal_failure(exporter: PrometheusExporter) -> None:
    class Broken:
        def labels(self, *values: str) -> None:
            raise RuntimeError("boom")

    exporter.requests = Broken()  # type: ignore[assignment]
    exporter.observe(known.RECORDS[0])  # must not raise on the proxy's event loop


def test_metrics_package_imports_neither_mitmproxy_nor_textual_nor_the_otel_sdk() -> None:
    code = (
        "import sys, metrics.prometheus, metrics.otel, metrics.semconv\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('mitmproxy', 'textual')"
        " or m.startswith('opentelemetry.sdk')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
