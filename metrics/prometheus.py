"""Prometheus exporter: the GenAI metrics of every final record, served on ``/metrics``.

Metric names are the OpenTelemetry GenAI names as Prometheus spells them (dots become
underscores, the unit is appended), so dashboards work the same whether the numbers come from
this endpoint or from the OTLP exporter through a collector. Mapping and bucket boundaries live
in metrics/semconv.py.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import start_http_server

from metrics import semconv
from metrics.semconv import Observation

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # loopback unless the user names another interface on purpose

# Labels every metric carries: the OTel attribute names with dots as underscores; LiveToken's own
# attributes drop their "livetoken." prefix (the metric name already says where they come from).
LABELS = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "api",
    "state",
    "error_type",
)
TOKEN_LABELS = (*LABELS, "gen_ai_token_type", "tokens_estimated")


class PrometheusStartError(OSError):
    """The /metrics server could not start; the message says what to change."""


class PortInUseError(PrometheusStartError):
    """Another process already listens on the configured port."""


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` → (host, port); IPv6 hosts go in brackets.

    Port 0 asks the system for a free port (the bound one is in ``PrometheusExporter.port``).
    Raises ValueError with the accepted forms when the text is none of them.
    """
    text = address.strip() if isinstance(address, str) else ""
    forms = "give HOST:PORT, :PORT or PORT (for example 127.0.0.1:9464)"
    if not text:
        raise ValueError(f"the Prometheus address is empty: {forms}")
    if "/" in text or any(c.isspace() for c in text):
        raise ValueError(f"{address!r} is not a Prometheus listen address: {forms}, no scheme or path")
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = _host(host, address, forms)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{address!r} has no valid port (0-65535): {forms}")
    return host or DEFAULT_HOST, int(port_text)


def _host(host: str, address: str, forms: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not host:
            raise ValueError(f"{address!r} has empty brackets where the IPv6 host belongs: {forms}")
        return host
    if ":" in host or "[" in host or "]" in host:
        raise ValueError(f"{address!r}: write an IPv6 host in brackets, as [::1]:9464")
    return host


class PrometheusExporter(semconv.Exporter):
    """Serves ``/metrics`` from its own registry in a background thread.

    ``observe`` runs on the proxy's event loop: it only updates in-memory metrics (prometheus
    client objects are thread-safe, the server thread reads them on each scrape) and never raises.
    """

    label = "Prometheus exporter"

    def __init__(self, address: str) -> None:
        super().__init__()
        self.host, self.port = parse_address(address)
        # A registry of our own: the global one would also expose process/GC collectors and would
        # clash when two exporters live in one process (tests, a restarted addon).
        self.registry = CollectorRegistry()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._define_metrics()

    def _define_metrics(self) -> None:
        registry = self.registry
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Number of input and output tokens used (gen_ai.client.token.usage).",
            TOKEN_LABELS,
            buckets=semconv.TOKEN_USAGE_BUCKETS,
            registry=registry,
        )
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration: request forwarded to last byte (gen_ai.client.operation.duration).",
            LABELS,
            buckets=semconv.OPERATION_DURATION_BUCKETS,
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to the first content token (gen_ai.server.time_to_first_token).",
            LABELS,
            buckets=semconv.TIME_TO_FIRST_TOKEN_BUCKETS,
            registry=registry,
        )
        self.time_per_output_token = Histogram(
            "gen_ai_server_time_per_output_token_seconds",
            "Time per output token after the first (gen_ai.server.time_per_output_token).",
            LABELS,
            buckets=semconv.TIME_PER_OUTPUT_TOKEN_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "livetoken_requests", "Finished requests by final state.", LABELS, registry=registry
        )
        self.cost = Counter(
            "livetoken_cost_usd", "Cost in US dollars of priced requests.", LABELS, registry=registry
        )

    # -- serving ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start serving ``/metrics``; raises PortInUseError / PrometheusStartError with advice."""
        if self._server is not None:
            return
        try:
            self._server, self._thread = start_http_server(self.port, self.host, self.registry)
        except OSError as exc:
            raise self._start_error(exc) from exc
        self.port = self._server.server_port  # the real one when 0 was asked for

    def _start_error(self, exc: OSError) -> PrometheusStartError:
        where = f"port {self.port} on {self.host}"
        change = "set livetoken_prometheus to another HOST:PORT (or leave it empty to turn /metrics off)"
        if exc.errno == errno.EADDRINUSE:
            return PortInUseError(
                f"{where} is in use: another program (or another LiveToken) listens there; "
                f"stop it or {change}"
            )
        if exc.errno == errno.EACCES:
            return PrometheusStartError(f"{where} needs privileges to listen on: {change} (above 1023)")
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            return PrometheusStartError(
                f"cannot listen on {self.host!r}: not an address of this machine ({exc}); {change}"
            )
        return PrometheusStartError(f"cannot serve /metrics on {where}: {exc}; {change}")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop the server (idempotent). Metrics already observed are dropped with the exporter."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()  # waits for serve_forever to return (at most its 0.5 s poll interval)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    # -- records ----------------------------------------------------------------------------
    def _record(self, obs: Observation) -> None:
        labels = (
            obs.operation or "",
            obs.provider,
            obs.model or "",
            obs.api,
            obs.state,
            obs.error_type or "",
        )
        self.requests.labels(*labels).inc()
        if obs.cost_usd is not None:
            self.cost.labels(*labels).inc(obs.cost_usd)
        if obs.operation is None:
            return  # not a GenAI operation: no gen_ai.* histograms
        if obs.duration_s is not None:
            self.operation_duration.labels(*labels).observe(obs.duration_s)
        if obs.ttft_s is not None:
            self.time_to_first_token.labels(*labels).observe(obs.ttft_s)
        if obs.tpot_s is not None:
            self.time_per_output_token.labels(*labels).observe(obs.tpot_s)
        estimated = "true" if obs.tokens_estimated else "false"
        if obs.input_tokens is not None:
            self.token_usage.labels(*labels, "input", estimated).observe(obs.input_tokens)
        if obs.output_tokens is not None:
            self.token_usage.labels(*labels, "output", estimated).observe(obs.output_tokens)
