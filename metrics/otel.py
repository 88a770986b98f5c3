"""OpenTelemetry exporter: the GenAI metrics of every final record, pushed over OTLP/HTTP.

For teams that run many proxies and one collector. Uses the official SDK, an optional extra
(``livetoken[otel]``): it is imported only when an exporter is built, so ``metrics`` imports
without it. Names, attributes and bucket boundaries come from metrics/semconv.py, shared with the
Prometheus exporter.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from metrics import semconv
from metrics.semconv import Observation

log = logging.getLogger(__name__)

METRICS_PATH = "/v1/metrics"  # OTLP/HTTP's path for metrics, appended to a bare collector URL
DEFAULT_EXPORT_INTERVAL_S = 10.0
DEFAULT_TIMEOUT_S = 5.0
MISSING_EXTRA = (
    "the OpenTelemetry exporter needs the optional 'otel' extra: run `uv sync --extra otel` "
    "(or `pip install 'livetoken[otel]'`), or leave livetoken_otlp_endpoint empty"
)


def metrics_url(endpoint: str) -> str:
    """The URL metrics are POSTed to: a bare collector address gets ``/v1/metrics``.

    ``http://collector:4318`` → ``http://collector:4318/v1/metrics``; a URL with a path is used
    as given; ``host:4318`` without a scheme means http. Raises ValueError for anything else.
    """
    text = endpoint.strip() if isinstance(endpoint, str) else ""
    example = "for example http://127.0.0.1:4318"
    if not text:
        raise ValueError(f"the OTLP endpoint is empty: give the collector's OTLP/HTTP URL, {example}")
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"{endpoint!r}: LiveToken exports OTLP over HTTP only (http:// or https://, usually port "
            f"4318; gRPC on 4317 is not supported), {example}"
        )
    try:
        _ = parts.port  # urlsplit validates the port lazily, on access
    except ValueError as exc:
        raise ValueError(f"{endpoint!r} has an invalid port ({exc}), {example}") from None
    if not parts.hostname:
        raise ValueError(f"{endpoint!r} names no host, {example}")
    path = parts.path if parts.path not in ("", "/") else METRICS_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _sdk() -> Any:
    """The SDK modules, imported on first use; a missing extra becomes a message that says how."""
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
        from opentelemetry.sdk.resources import Resource
    except ImportError as exc:
        raise ImportError(MISSING_EXTRA) from exc
    return (
        OTLPMetricExporter,
        MeterProvider,
        PeriodicExportingMetricReader,
        ExplicitBucketHistogramAggregation,
        View,
        Resource,
    )


def _version() -> str:
    try:
        return metadata.version("livetoken")
    except metadata.PackageNotFoundError:
        return "0"


class OtlpExporter(semconv.Exporter):
    """Records final records into OTel instruments; a background reader pushes them every
    ``export_interval_s`` seconds (cumulative temporality unless the standard
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says otherwise).

    ``observe`` runs on the proxy's event loop: it only aggregates in memory and never raises.
    Exports run on the SDK's own thread. ``close()`` pushes what is left and can block up to
    about ``timeout_s`` when the collector does not answer.

    Headers (e.g. auth for a hosted collector) come from the SDK's standard
    OTEL_EXPORTER_OTLP_HEADERS / OTEL_EXPORTER_OTLP_METRICS_HEADERS, and ``headers`` on top.
    """

    label = "OTLP exporter"

    def __init__(
        self,
        endpoint: str,
        *,
        export_interval_s: float = DEFAULT_EXPORT_INTERVAL_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = metrics_url(endpoint)  # validate before touching the SDK: the clearer error first
        if not export_interval_s > 0 or not timeout_s > 0:
            raise ValueError("export_interval_s and timeout_s must be positive seconds")
        exporter_cls, provider_cls, reader_cls, buckets_cls, view_cls, resource_cls = _sdk()
        exporter = exporter_cls(
            endpoint=self.url, headers=dict(headers) if headers is not None else None, timeout=timeout_s
        )
        reader = reader_cls(
            exporter,
            export_interval_millis=export_interval_s * 1000,
            export_timeout_millis=timeout_s * 1000,
        )
        views = [
            view_cls(instrument_name=name, aggregation=buckets_cls(boundaries=list(bounds)))
            for name, bounds in (
                (semconv.TOKEN_USAGE, semconv.TOKEN_USAGE_BUCKETS),
                (semconv.OPERATION_DURATION, semconv.OPERATION_DURATION_BUCKETS),
                (semconv.TIME_TO_FIRST_TOKEN, semconv.TIME_TO_FIRST_TOKEN_BUCKETS),
                (semconv.TIME_PER_OUTPUT_TOKEN, semconv.TIME_PER_OUTPUT_TOKEN_BUCKETS),
            )
        ]
        # Our own provider, never the global one: the addon must not change what other code in
        # the process (or a second exporter in tests) sees. Shut down by close(), not at exit.
        self._provider = provider_cls(
            metric_readers=[reader],
            resource=_resource(resource_cls),
            views=views,
            shutdown_on_exit=False,
        )
        self._define_instruments(self._provider.get_meter("livetoken", _version()))
        super().__init__()

    def _define_instruments(self, meter: Any) -> None:
        self.token_usage = meter.create_histogram(
            semconv.TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used."
        )
        self.operation_duration = meter.create_histogram(
            semconv.OPERATION_DURATION, unit="s", description="GenAI operation duration."
        )
        self.time_to_first_token = meter.create_histogram(
            semconv.TIME_TO_FIRST_TOKEN, unit="s", description="Time to generate the first token."
        )
        self.time_per_output_token = meter.create_histogram(
            semconv.TIME_PER_OUTPUT_TOKEN,
            unit="s",
            description="Time per output token generated after the first token.",
        )
        self.requests = meter.create_counter(
            semconv.REQUESTS, unit="{request}", description="Finished requests by final state."
        )
        self.cost = meter.create_counter(
            semconv.COST, unit="{USD}", description="Cost in US dollars of priced requests."
        )

    # -- records ----------------------------------------------------------------------------
    def _record(self, obs: Observation) -> None:
        attributes = _attributes(obs)
        self.requests.add(1, attributes)
        if obs.cost_usd is not None:
            self.cost.add(obs.cost_usd, attributes)
        if obs.operation is None:
            return  # not a GenAI operation: no gen_ai.* histograms
        if obs.duration_s is not None:
            self.operation_duration.record(obs.duration_s, attributes)
        if obs.ttft_s is not None:
            self.time_to_first_token.record(obs.ttft_s, attributes)
        if obs.tpot_s is not None:
            self.time_per_output_token.record(obs.tpot_s, attributes)
        for token_type, count in (("input", obs.input_tokens), ("output", obs.output_tokens)):
            if count is not None:
                self.token_usage.record(
                    count,
                    {
                        **attributes,
                        semconv.TOKEN_TYPE: token_type,
                        semconv.TOKENS_ESTIMATED: obs.tokens_estimated,
                    },
                )

    # -- the end ----------------------------------------------------------------------------
    def flush(self) -> None:
        """Export now, best effort: blocks up to about ``timeout_s``; a collector that does not
        take the data is logged by the SDK, never raised (its result is not reliable either)."""
        if self._closed:
            return
        try:
            self._provider.force_flush()
        except Exception:
            log.debug("OTLP flush failed", exc_info=True)

    def close(self) -> None:
        """Export what is left, then stop the reader (idempotent; later observes are ignored)."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        try:
            self._provider.shutdown()
        except Exception:
            log.debug("OTLP shutdown failed", exc_info=True)


def _attributes(obs: Observation) -> dict[str, str]:
    """The attributes every data point carries; absent values are left out, as OTel expects."""
    attributes = {
        semconv.PROVIDER_NAME: obs.provider,
        semconv.API: obs.api,
        semconv.STATE: obs.state,
    }
    if obs.operation is not None:
        attributes[semconv.OPERATION_NAME] = obs.operation
    if obs.model is not None:
        attributes[semconv.REQUEST_MODEL] = obs.model
    if obs.error_type is not None:
        attributes[semconv.ERROR_TYPE] = obs.error_type
    return attributes


def _resource(resource_cls: Any) -> Any:
    """service.name "livetoken" unless the standard environment (OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES) names it. With many proxies feeding one collector each needs its own
    service.instance.id or their cumulative series would collide: the SDK makes one per process;
    older SDKs did not, so one is made here when it is missing."""
    detected = resource_cls.create()
    ours: dict[str, str] = {}
    if "service.version" not in detected.attributes:
        ours["service.version"] = _version()
    if str(detected.attributes.get("service.name", "")).startswith("unknown_service"):
        ours["service.name"] = "livetoken"
    if "service.instance.id" not in detected.attributes:
        ours["service.instance.id"] = str(uuid.uuid4())
    return detected.merge(resource_cls(ours))
