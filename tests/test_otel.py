"""The OTLP exporter: a small local OTLP/HTTP receiver takes what the official SDK sends, decodes it
with opentelemetry-proto, and the data points must match the hand computation over known records
(tests/export_records.py)."""

from __future__ import annotations

import gzip
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from metrics.otel import MISSING_EXTRA, OtlpExporter, metrics_url
from tests import export_records as known

NO_PERIODIC_EXPORT = 3600.0  # exports happen only when the test flushes or closes: no timing


@dataclass
class Receiver:
    """What the collector stand-in received: one decoded request per POST."""

    port: int
    requests: list[ExportMetricsServiceRequest] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            # Stored before answering: once the exporter's flush returns, the data is here.
            box[0].requests.append(request)
            box[0].paths.append(self.path)
            box[0].headers.append({k.lower(): v for k, v in self.headers.items()})
            reply = ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest's output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()
    thread.join()


def attrs(key_values: Any) -> dict[str, Any]:
    out = {}
    for kv in key_values:
        assert isinstance(kv, KeyValue)
        out[kv.key] = getattr(kv.value, kv.value.WhichOneof("value"))
    return out


def latest_metrics(receiver: Receiver) -> dict[str, Any]:
    """Each metric as last exported (cumulative temporality: the last one holds the totals)."""
    found: dict[str, Any] = {}
    for request in receiver.requests:
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    found[metric.name] = metric
    return found


def cumulative(point: Any) -> dict[float, int]:
    """OTLP bucket counts are per bucket; the expectations are cumulative by upper bound."""
    bounds = [*point.explicit_bounds, float("inf")]
    total, out = 0, {}
    for bound, count in zip(bounds, point.bucket_counts, strict=True):
        total += count
        out[bound] = total
    return out


def by_attributes(points: Any) -> dict[frozenset[tuple[str, Any]], Any]:
    return {frozenset(attrs(p.attributes).items()): p for p in points}


def key(attributes: dict[str, Any]) -> frozenset[tuple[str, Any]]:
    return frozenset(attributes.items())


def check_histogram(metric: Any, unit: str, spec: str, expected: dict[frozenset, known.Hist]) -> None:
    assert metric.unit == unit
    assert metric.WhichOneof("data") == "histogram"
    temporality = metric.histogram.aggregation_temporality
    assert temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    points = by_attributes(metric.histogram.data_points)
    # Exactly these series: records without the value (None) must not have filled this histogram.
    assert set(points) == set(expected), metric.name
    for attributes, hist in expected.items():
        point = points[attributes]
        assert list(point.explicit_bounds) == [float(b) for b in known.SPEC_BUCKETS[spec]], metric.name
        assert point.count == hist.count, (metric.name, attributes)
        assert point.sum == pytest.approx(hist.sum), (metric.name, attributes)
        got = cumulative(point)
        for le, count in hist.le.items():
            assert got[le] == count, (metric.name, attributes, le)


@pytest.fixture
def exported(receiver: Receiver) -> dict[str, Any]:
    exporter = OtlpExporter(receiver.endpoint, export_interval_s=NO_PERIODIC_EXPORT, timeout_s=10)
    for rec in known.RECORDS:
        exporter.observe(rec)
    exporter.close()  # close() must flush: nothing else exports in this test
    assert receiver.paths and set(receiver.paths) == {"/v1/metrics"}
    return latest_metrics(receiver)


def test_histograms_match_a_hand_computation(exported: dict[str, Any]) -> None:
    for name, unit, spec, expected in (
        ("gen_ai.server.time_to_first_token", "s", "time_to_first_token", known.TIME_TO_FIRST_TOKEN),
        ("gen_ai.server.time_per_output_token", "s", "time_per_output_token", known.TIME_PER_OUTPUT_TOKEN),
        ("gen_ai.client.operation.duration", "s", "operation_duration", known.OPERATION_DURATION),
    ):
        check_histogram(exported[name], unit, spec, {key(s.otel()): h for s, h in expected.items()})
    token_usage = {
        key({**series.otel(), "gen_ai.token.type": kind, "livetoken.tokens_estimated": est}): h
        for (series, kind, est), h in known.TOKEN_USAGE.items()
    }
    check_histogram(exported["gen_ai.client.token.usage"], "{token}", "token_usage", token_usage)


def test_counters_match_a_hand_computation(exported: dict[str, Any]) -> None:
    requests = exported["livetoken.requests"]
    assert requests.sum.is_monotonic
    points = by_attributes(requests.sum.data_points)
    assert {k: p.as_int for k, p in points.items()} == {key(s.otel()): n for s, n in known.REQUESTS.items()}
    cost = exported["livetoken.cost.usd"]
    assert cost.sum.is_monotonic
    points = by_attributes(cost.sum.data_points)
    assert set(points) == {key(s.otel()) for s in known.COST_USD}  # unpriced records add nothing
    for series, usd in known.COST_USD.items():
        assert points[key(series.otel())].as_double == pytest.approx(usd)


def test_failures_carry_error_type_and_successes_do_not(exported: dict[str, Any]) -> None:
    for point in exported["gen_ai.client.operation.duration"].histogram.data_points:
        attributes = attrs(point.attributes)
        assert ("error.type" in attributes) == (attributes["livetoken.state"] != "done"), attributes
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] in ("anthropic", "openai")
        assert "gen_ai.system" not in attributes  # replaced by gen_ai.provider.name in semconv 1.37


def test_resource_names_the_service_and_an_instance(receiver: Receiver) -> None:
    exporter = OtlpExporter(receiver.endpoint, export_interval_s=NO_PERIODIC_EXPORT)
    exporter.observe(known.RECORDS[0])
    exporter.flush()
    assert len(receiver.requests) == 1  # flush() exported, before close()
    exporter.close()
    resource = attrs(receiver.requests[0].resource_metrics[0].resource.attributes)
    assert resource["service.name"] == "livetoken"
    # Two proxies feeding one collector must not merge their cumulative series.
    assert resource["service.instance.id"]
    scope = receiver.requests[0].resource_metrics[0].scope_metrics[0].scope
    assert scope.name == "livetoken"


def test_environment_names_the_service(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "proxy-eu")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=box-7,deployment.environment=ci")
    exporter = OtlpExporter(receiver.endpoint, export_interval_s=NO_PERIODIC_EXPORT)
    exporter.observe(known.RECORDS[0])
    exporter.close()
    resource = attrs(receiver.requests[0].resource_metrics[0].resource.attributes)
    assert resource["service.name"] == "proxy-eu"
    assert resource["service.instance.id"] == "box-7"
    assert resource["deployment.environment"] == "ci"


def test_headers_reach_the_collector(receiver: Receiver) -> None:
    exporter = OtlpExporter(receiver.endpoint, export_interval_s=NO_PERIODIC_EXPORT,
                            headers={"authorization": "Bearer t0ken"})  # fmt: skip
    exporter.observe(known.RECORDS[0])
    exporter.close()
    assert receiver.headers[0]["authorization"] == "Bearer t0ken"
    assert receiver.headers[0]["content-type"] == "application/x-protobuf"


def test_observe_after_close_and_nonsense_never_raise(receiver: Receiver) -> None:
    exporter = OtlpExporter(receiver.endpoint, export_interval_s=NO_PERIODIC_EXPORT)
    exporter.observe(None)
    exporter.observe(object())

    class Broken:
        def add(self, *args: Any) -> None:
            raise RuntimeError("boom")

    exporter.requests = Broken()
    exporter.observe(known.RECORDS[0])  # an internal failure stays inside
    exporter.close()
    exporter.close()  # idempotent
    sent = len(receiver.requests)
    exporter.observe(known.RECORDS[0])
    exporter.flush()
    assert len(receiver.requests) == sent  # closed: nothing more goes out


def test_unreachable_collector_does_not_raise() -> None:
    with socket.socket() as bound:  # bound but not listening: connections are refused at once
        bound.bind(("127.0.0.1", 0))
        exporter = OtlpExporter(f"http://127.0.0.1:{bound.getsockname()[1]}",
                                export_interval_s=NO_PERIODIC_EXPORT, timeout_s=0.5)  # fmt: skip
        exporter.observe(known.RECORDS[0])
        exporter.flush()  # the SDK logs the failed export; nothing reaches the caller
        exporter.close()


def test_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.metrics", None)  # as if not installed
    with pytest.raises(ImportError) as caught:
        OtlpExporter("http://127.0.0.1:4318")
    assert str(caught.value) == MISSING_EXTRA
    assert "uv sync --extra otel" in MISSING_EXTRA
    assert "pip install 'livetoken[otel]'" in MISSING_EXTRA


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/metrics"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/metrics"),
        ("127.0.0.1:4318", "http://127.0.0.1:4318/v1/metrics"),
        ("https://otel.example.com", "https://otel.example.com/v1/metrics"),
        ("https://otel.example.com/otlp/v1/metrics", "https://otel.example.com/otlp/v1/metrics"),
        (" http://[::1]:4318 ", "http://[::1]:4318/v1/metrics"),
    ],
)
def test_metrics_url(endpoint: str, url: str) -> None:
    assert metrics_url(endpoint) == url


@pytest.mark.parametrize(
    ("endpoint", "hint"),
    [
        ("", "empty"),
        ("grpc://127.0.0.1:4317", "OTLP over HTTP only"),
        ("http://127.0.0.1:99999", "invalid port"),
        ("http://:4318", "names no host"),
    ],
)
def test_bad_endpoint_is_a_value_error(endpoint: str, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        OtlpExporter(endpoint)
