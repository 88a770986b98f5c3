"""LiveToken: a mitmproxy addon that measures LLM API traffic and publishes records.

    mitmdump -s livetoken_addon.py --mode reverse:https://api.anthropic.com@7357

A thin adapter from mitmproxy's hooks to ``metrics``: it routes requests to the right
upstream, hands every streamed chunk to a tracker (bytes pass through unchanged) and
publishes records on the feed. Nothing here may raise into mitmproxy.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from mitmproxy import ctx, exceptions, http
from mitmproxy.proxy import mode_specs

from metrics import cost
from metrics.config import LOOP_ADVICE, OPTION_NAMES, OPTIONS, api_key_provider, parse_option, read_env
from metrics.estimate import TokenEstimator
from metrics.feed import FeedError, FeedPublisher, resolve_socket_path
from metrics.history import HistoryError, HistoryWriter
from metrics.record import ERROR, Record
from metrics.routing import ANTHROPIC, OPENAI, Upstream, classify, is_loopback
from metrics.summary import summary_line
from metrics.tracker import RequestTracker, read_request

log = logging.getLogger("livetoken")

_CLIENT_GONE = ("client disconnected", "client closed", "client cancel", "stream reset by client")
# Words in mitmproxy's error message when the upstream could not be reached at all.
_CONNECT_FAILED = (
    "connect call failed",
    "refused",
    "resolve",
    "name or service",
    "nodename",
    "unreachable",
    "no route",
    "timed out",
    "timeout",
    "certificate",
    "tls handshake",
)


def priced(record: Record) -> Record:
    record.cost_usd = cost.cost_usd(record)
    return record


def guarded(hook: Callable[..., Any]) -> Callable[..., Any]:
    """LiveToken's bugs must never become the user's: log them, let traffic flow."""

    @functools.wraps(hook)
    def wrapper(self: LiveToken, *args: Any) -> Any:
        try:
            return hook(self, *args)
        except Exception:
            log.exception("livetoken: internal error in %s (traffic is not affected)", hook.__name__)
            return None

    return wrapper


def _on_loopback(spec: str) -> str:
    """``reverse:URL@7357`` -> ``reverse:URL@127.0.0.1:7357``; specs naming a host stay as they are."""
    try:
        mode = mode_specs.ProxyMode.parse(spec)
    except ValueError:
        return spec  # mitmproxy reports it
    port = mode.listen_port()
    if mode.custom_listen_host is not None or port is None or mode.transport_protocol == "udp":
        return spec
    data = f":{mode.data}" if mode.data else ""
    return f"{mode.type_name}{data}@127.0.0.1:{port}"


class LiveToken:
    def __init__(self) -> None:
        self.feed: FeedPublisher | None = None
        self.history: HistoryWriter | None = None
        self.exporters: dict[str, Any] = {}  # option name -> PrometheusExporter / OtlpExporter
        self.estimator = TokenEstimator()
        self.trackers: dict[str, RequestTracker] = {}
        self.anthropic: Upstream | None = None
        self.openai: Upstream | None = None
        self._estimating: set[asyncio.Future[Record]] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._running = False

    # -- options ----------------------------------------------------------------------------
    def load(self, loader: Any) -> None:
        env = read_env()
        self._env_errors = env.errors
        for spec in OPTIONS:
            loader.add_option(spec.name, spec.type, spec.default(env), spec.help)
        options = loader.master.options
        self._check_set_values(options)
        # Eager mode dials the reverse target when a client connects, before any request: an
        # unreachable upstream then drops the client with no response and no record, and OpenAI
        # requests would dial Anthropic first. Lazy dials per request, to the right upstream.
        if "connection_strategy" in options:
            options.update(connection_strategy="lazy")

    @staticmethod
    def _check_set_values(options: Any) -> None:
        """``--set livetoken_…=`` values wait in mitmproxy until the script has declared its
        options; a bad one would then fail the whole script silently and leave a plain proxy
        running. Check them here and say what is wrong: mitmdump then stops at start-up."""
        deferred = getattr(options, "deferred", {})
        specs = {spec.name: spec for spec in OPTIONS}
        for name in [n for n in deferred if n.startswith("livetoken")]:
            raw = deferred[name]
            value = " ".join(getattr(raw, "val", [raw])) if not isinstance(raw, str) else raw
            if name not in OPTION_NAMES:
                log.error(
                    "livetoken: unknown option %s; LiveToken's options are %s",
                    name,
                    ", ".join(sorted(OPTION_NAMES)),
                )
                del deferred[name]
                continue
            try:
                deferred[name] = parse_option(specs[name], value)
            except ValueError as exc:
                log.error("livetoken: --set %s=%s: %s", name, value, exc)
                del deferred[name]

    def configure(self, updated: set[str]) -> None:
        try:
            self._configure(updated)
        except exceptions.OptionsError as exc:
            if self._running:
                raise  # a change at run time: mitmproxy rolls it back and says why
            # At start-up a clean error line is enough: mitmdump's start-up check sees it and
            # exits with status 1, without a traceback that buries the message.
            log.error(str(exc))

    def _configure(self, updated: set[str]) -> None:
        if self._env_errors:
            raise exceptions.OptionsError("livetoken: " + "; ".join(self._env_errors))
        opts = ctx.options
        if opts.livetoken_history < 1:
            raise exceptions.OptionsError("livetoken_history (MAX_HISTORY) must be at least 1")
        try:
            self.openai = Upstream.parse(
                opts.livetoken_openai_upstream, "livetoken_openai_upstream (OPENAI_BASE_URL)"
            )
            self.anthropic = (
                Upstream.parse(
                    opts.livetoken_anthropic_upstream, "livetoken_anthropic_upstream (ANTHROPIC_BASE_URL)"
                )
                if opts.livetoken_anthropic_upstream
                else None
            )
        except ValueError as exc:
            raise exceptions.OptionsError(f"livetoken: {exc}") from exc
        self._refuse_self_loop()
        self._refuse_shared_key()
        if "livetoken_db" in updated:
            self._open_history(opts.livetoken_db)
        for name in ("livetoken_prometheus", "livetoken_otlp_endpoint"):
            if name in updated:
                self._open_exporter(name, getattr(opts, name))
        if self.feed is None or "livetoken_socket" in updated:
            self._open_feed(resolve_socket_path(opts.livetoken_socket))
        self.feed.history = opts.livetoken_history

    def _open_history(self, path: str) -> None:
        if self.history is not None and self.history.path == path:
            return
        try:
            history = HistoryWriter(path) if path else None
        except HistoryError as exc:
            raise exceptions.OptionsError(f"livetoken: {exc}") from exc
        old, self.history = self.history, history
        if history is not None and self._running:
            history.start()
        if old is not None:
            old.close()

    def _open_exporter(self, name: str, value: str) -> None:
        """Prometheus /metrics or an OTLP push, started now so a taken port stops start-up."""
        try:
            if not value:
                exporter = None
            elif name == "livetoken_prometheus":
                from metrics.prometheus import PrometheusExporter

                exporter = PrometheusExporter(value)
                exporter.start()
                log.info("livetoken: Prometheus metrics on %s", exporter.url)
            else:
                from metrics.otel import OtlpExporter

                exporter = OtlpExporter(value)
        except (ValueError, ImportError, OSError) as exc:
            raise exceptions.OptionsError(f"livetoken: {name}={value}: {exc}") from exc
        old = self.exporters.pop(name, None)
        if exporter is not None:
            self.exporters[name] = exporter
        if old is not None:
            old.close()

    def _open_feed(self, path: str) -> None:
        if self.feed is not None and self.feed.path == path:
            return
        feed = FeedPublisher(path, ctx.options.livetoken_history, self._hello)
        try:
            feed.bind()
        except FeedError as exc:
            raise exceptions.OptionsError(f"livetoken: {exc}") from exc
        old, self.feed = self.feed, feed
        if old is not None:  # the socket option changed while running: move the feed
            self._background(old.close())
            self._background(self._start_feed())

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refuse_self_loop(self) -> None:
        """An upstream that is this proxy's own listen address would loop forever."""
        opts = ctx.options
        for spec in opts.mode:
            try:
                mode = mode_specs.ProxyMode.parse(spec)
            except ValueError:
                continue
            port = mode.listen_port(opts.listen_port)
            if port is None:
                continue
            host = mode.listen_host(opts.listen_host)
            targets: list[tuple[str, Upstream | None]] = [
                ("livetoken_openai_upstream", self.openai),
                ("livetoken_anthropic_upstream", self.anthropic),
            ]
            if isinstance(mode, mode_specs.ReverseMode):
                targets.append(("reverse", Upstream("http", *mode.address, "")))
            for name, upstream in targets:
                if upstream is not None and upstream.is_address(host, port, resolve=True):
                    raise exceptions.OptionsError(
                        f"livetoken: {upstream.host}:{upstream.port} is this proxy itself, so requests "
                        f"would loop. {LOOP_ADVICE[name]}"
                    )

    def _refuse_shared_key(self) -> None:
        """API_KEY spends the user's money for anyone who reaches the port: loopback only, unless asked."""
        opts = ctx.options
        if not opts.livetoken_api_key or opts.livetoken_allow_remote_key:
            return
        for spec in opts.mode:
            try:
                host = mode_specs.ProxyMode.parse(spec).listen_host(opts.listen_host)
            except ValueError:
                continue
            if host and not is_loopback(host):
                raise exceptions.OptionsError(
                    f"livetoken: API_KEY is set and the proxy listens on {host}, so anyone who reaches it "
                    "would spend your key. Listen on 127.0.0.1, or --set livetoken_allow_remote_key=true."
                )

    def _hello(self) -> dict[str, Any]:
        # The counting method used for responses without usage; ready is false while tiktoken loads.
        return {
            "estimator": self.estimator.method,
            "estimator_ready": self.estimator.loaded.is_set(),
            "in_flight": len(self.trackers) + len(self._estimating),  # requests without a final record yet
        }

    async def running(self) -> None:
        self._running = True
        self.estimator.start()
        # Prices load in a worker (about a second of CPU); the feed, the sign that the proxy is
        # ready, comes up after them, so measured traffic does not share the CPU with the load.
        await asyncio.get_running_loop().run_in_executor(None, cost.warm_up().wait)
        opts = ctx.options
        if "listen_host" in opts and not opts.listen_host:
            # Loopback unless the user asks otherwise (--listen-host, or @HOST:PORT in --mode).
            # mitmproxy binds its servers before scripts load; a changed `mode` rebinds them.
            loopback = [_on_loopback(spec) for spec in opts.mode]
            if loopback != opts.mode:
                opts.update(mode=loopback)
                log.info("livetoken: listening on loopback only; --listen-host 0.0.0.0 serves other machines")
        self._log_routes()
        if self.history is not None:
            self.history.start()
            if self.feed is not None:  # the feed's backlog starts with what came before this start
                self.feed.preload(self.history.recent(ctx.options.livetoken_history))
        await self._start_feed()

    def _log_routes(self) -> None:
        anthropic = self.anthropic.url if self.anthropic else "the --mode reverse target"
        log.info(
            "livetoken: /v1/messages -> %s; /v1/chat/completions, /v1/responses -> %s",
            anthropic,
            self.openai.url if self.openai else "?",
        )
        key = ctx.options.livetoken_api_key
        if key:
            log.info(
                "livetoken: API_KEY is added to %s requests that carry no credential", api_key_provider(key)
            )

    async def _start_feed(self) -> None:
        if self.feed is not None:
            try:
                await self.feed.start()
            except (FeedError, OSError) as exc:
                log.error("livetoken: feed unavailable: %s", exc)
                return
            log.info("livetoken: feed on %s", self.feed.path)

    async def done(self) -> None:
        # Shutting down (Ctrl-C) mid-stream: those requests end too, with one final record each.
        for flow_id in list(self.trackers):
            tracker = self.trackers.pop(flow_id)
            record = tracker.fail(
                time.monotonic(),
                "proxy_shutdown",
                "the proxy shut down before the response ended",
                aborted=True,
                estimator=self.estimator,
            )
            self._published_final(priced(record))
        if self._estimating:
            await asyncio.wait(self._estimating, timeout=2)
        if self.feed is not None:
            await self.feed.close()
        if self.history is not None:
            self.history.close()
        for exporter in self.exporters.values():
            exporter.close()

    # -- requests ---------------------------------------------------------------------------
    @guarded
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:  # answered by another addon (or mitmproxy itself)
            return
        request = flow.request
        reverse = isinstance(flow.client_conn.proxy_mode, mode_specs.ReverseMode)
        provider, api = classify(request.path, request.headers, "" if reverse else request.host)
        if reverse:
            provider = self._route(request, provider, api)
        self._add_credential(request, provider)
        info = read_request(request.raw_content)
        record = Record(
            id=flow.id,
            provider=provider,
            api=api,
            method=request.method,
            path=request.path.split("?", 1)[0],
            model=info.model,
            started_at=request.timestamp_start,
        )
        self.trackers[flow.id] = RequestTracker(record, time.monotonic(), request.raw_content)
        self._publish(record)

    def _route(self, request: http.Request, provider: str, api: str) -> str:
        """Reverse mode: OpenAI paths go to the OpenAI upstream, the rest to Anthropic's."""
        if api in ("chat_completions", "responses") or (api == "other" and provider == OPENAI):
            upstream = self.openai
            provider = OPENAI
        else:
            upstream = self.anthropic  # None: the reverse-mode target as mitmproxy set it
            provider = ANTHROPIC
        if upstream is not None:
            request.scheme = upstream.scheme
            request.host = upstream.host
            request.port = upstream.port
            request.path = upstream.path_for(request.path)
        return provider

    def _add_credential(self, request: http.Request, provider: str) -> None:
        key = ctx.options.livetoken_api_key
        if not key or "x-api-key" in request.headers or "authorization" in request.headers:
            return
        if provider != api_key_provider(key):
            return  # never hand one provider's key to the other
        if provider == ANTHROPIC:
            request.headers["x-api-key"] = key
        else:
            request.headers["authorization"] = f"Bearer {key}"

    # -- responses --------------------------------------------------------------------------
    @guarded
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        tracker = self.trackers.get(flow.id)
        if tracker is None or flow.response is None:
            return
        tracker.on_response_headers(flow.response.status_code, flow.response.headers, time.monotonic())
        if tracker.record.stream:
            flow.response.stream = self._stream(tracker)
            self._publish(tracker.record)

    def _stream(self, tracker: RequestTracker) -> Callable[[bytes], bytes | Iterable[bytes]]:
        """The per-chunk callable: measures a chunk and hands back the very same bytes."""
        on_chunk = tracker.on_chunk
        feed_publish = self._publish
        failed = False

        def stream(data: bytes) -> bytes | Iterable[bytes]:
            nonlocal failed
            if failed:
                return data or []
            try:
                now = time.monotonic()
                if data:
                    if on_chunk(data, now):
                        feed_publish(tracker.snapshot(now))
                else:
                    tracker.on_stream_end(now)
            except Exception:
                failed = True
                log.exception("livetoken: internal error while measuring a stream (bytes still pass through)")
            return data or []  # never b"" for a chunk: over HTTP/1 that ends the body

        return stream

    @guarded
    def response(self, flow: http.HTTPFlow) -> None:
        tracker = self.trackers.pop(flow.id, None)
        if tracker is None or flow.response is None:
            return
        if not tracker.record.stream:
            tracker.on_body(flow.response.get_content(strict=False))
        self._finish(tracker, lambda: tracker.finish(time.monotonic(), self.estimator))

    @guarded
    def error(self, flow: http.HTTPFlow) -> None:
        tracker = self.trackers.pop(flow.id, None)
        if tracker is None:
            return
        message = flow.error.msg if flow.error else "unknown error"
        lowered = message.lower()
        aborted = any(marker in lowered for marker in _CLIENT_GONE)
        if aborted:
            error_type = "client_disconnected"
        elif tracker.record.status is not None:
            error_type = "upstream_disconnected"
        elif any(marker in lowered for marker in _CONNECT_FAILED):
            error_type = "upstream_unreachable"
        else:
            error_type = "proxy_error"  # mitmproxy refused the request itself (e.g. unsupported protocol)
        self._finish(
            tracker,
            lambda: tracker.fail(
                time.monotonic(), error_type, message, aborted=aborted, estimator=self.estimator
            ),
        )

    def _finish(self, tracker: RequestTracker, finish: Callable[[], Record]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # only outside mitmproxy (scripts, tests): finish right here
            loop = None
        if loop is None or not (tracker.needs_estimate or not cost.ready.is_set()):
            try:
                record = priced(finish())
            except Exception:
                record = self._salvage(tracker)
            self._published_final(record)
            return
        # Counting the tokens of a long answer, or a first price lookup, takes milliseconds to a
        # second: do it off the event loop.
        future = loop.run_in_executor(None, lambda: priced(finish()))
        self._estimating.add(future)
        future.add_done_callback(functools.partial(self._estimated, tracker))

    def _estimated(self, tracker: RequestTracker, future: asyncio.Future[Record]) -> None:
        self._estimating.discard(future)
        try:
            record = future.result()
        except Exception:
            record = self._salvage(tracker)
        self._published_final(record)

    @staticmethod
    def _salvage(tracker: RequestTracker) -> Record:
        """Every request ends with one final record, even when LiveToken itself failed."""
        log.exception("livetoken: internal error while finishing a record")
        record = tracker.record
        if not record.final:
            record.state = ERROR
            record.error_type = "livetoken_internal_error"
        return record

    def _published_final(self, record: Record) -> None:
        self._publish(record)
        if self.history is not None:
            self.history.add(record)
        for exporter in self.exporters.values():
            exporter.observe(record)
        if ctx.options.livetoken_console:
            log.info(summary_line(record))

    def _publish(self, record: Record) -> None:
        if self.feed is not None:
            self.feed.publish(record)


addons = [LiveToken()]
