"""A fake LLM API upstream: replays recorded fixtures and synthesises streams on demand.

Used by the tests, the benchmarks and the demo; it is the one part that stands in for the real
APIs. Each request may carry an ``x-fake`` header of ``key=value`` pairs separated by ``;``:

    fixture=NAME     replay ``NAME`` (.sse or .json) from --fixtures instead of synthesising
    tokens=N         text deltas in a synthetic answer (default 20; every content event is a token)
    thinking=N       Anthropic thinking deltas (and a signature) before the text
    tool=NAME        a tool call after the text (name, then argument fragments)
    cache_read=N     prompt tokens read from the cache (both providers)
    cache_write=N    prompt tokens written to the cache (Anthropic)
    reasoning=N      hidden reasoning tokens in OpenAI usage
    interval_ms=F    pause between content events (default 0)
    pause_ms=F       pause before the first content event, after the preamble went out at once
    chunk=N          split the (encoded) body into N-byte chunks instead of one chunk per event
    encoding=E       gzip | deflate | br | zstd content-encoding of the body
    status=N         answer with this HTTP status and the provider's error body
    fault=F          error_event | truncate | reset | stall | malformed | corrupt_encoding |
                     no_newline (SSE that never ends a line) | empty (zero-length body) |
                     bad_length (content-length larger than the body, then close)
    big_event_mb=F   one content event of F MiB in the middle of the stream
    model=NAME       the model the response names (default: the request's)
    stamp=1          each content event's text is its send time (time.time(), 6 decimals)
    ratelimit=R      standard (default) | unified (Claude Code's plan headers) | none

``GET /_fake/log`` returns what was received and sent per request (wall-clock times from this
process, sha256 of the exact body bytes sent) so tests can compare with what the client saw.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import socket
import sys
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import zstandard

from livetoken.synthetic import STAMP, Event, Shape, api_of, body_for, error_body, stream_for

# ratelimit=NAME: the rate-limit headers the response carries (Claude Code's plans send "unified").
RATE_LIMITS = {
    "standard": {
        "anthropic-ratelimit-requests-remaining": "99",
        "anthropic-ratelimit-tokens-remaining": "79000",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-remaining-tokens": "99000",
    },
    "unified": {
        "anthropic-ratelimit-unified-status": "allowed",
        "anthropic-ratelimit-unified-5h-status": "allowed",
        "anthropic-ratelimit-unified-5h-utilization": "0.42",
        "anthropic-ratelimit-unified-reset": "1796320000",
        "anthropic-ratelimit-unified-representative-claim": "five_hour",
    },
    "none": {},
}


def shape_of(options: dict[str, str], request: dict[str, Any], body_len: int) -> Shape:
    """The answer's shape from the x-fake options; the prompt counts as one token per 4 bytes."""
    number = lambda key, default=0: int(options.get(key, default))  # noqa: E731
    cache_read, cache_write = number("cache_read"), number("cache_write")
    return Shape(
        model=options.get("model") or request.get("model") or "fake-model",
        tokens=number("tokens", 20),
        input_tokens=max(1, body_len // 4) + cache_read + cache_write,
        thinking=number("thinking"),
        tool=options.get("tool", ""),
        cache_read=cache_read,
        cache_write=cache_write,
        reasoning=number("reasoning"),
        error_event=options.get("fault") == "error_event",
        stamp=options.get("stamp") == "1",
    )


# -- synthetic bodies ----------------------------------------------------------------------


# -- fixtures ------------------------------------------------------------------------------


def fixture_events(path: Path) -> list[Event]:
    """An .sse fixture as wire events: its first ``: source:`` line dropped, bytes untouched."""
    raw = path.read_bytes()
    if raw.startswith(b": source:"):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    pieces = raw.split(b"\n\n")
    events = [p + b"\n\n" for p in pieces[:-1]]
    if pieces[-1]:
        events.append(pieces[-1])  # a last event without its blank line stays that way
    return [(e, b"delta" in e) for e in events]


# -- encodings -----------------------------------------------------------------------------


class Encoder:
    """Streaming compressor that flushes after every event, as real servers do."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name in ("gzip", "deflate"):
            self._z = zlib.compressobj(9, zlib.DEFLATED, 31 if name == "gzip" else 15)
        elif name == "br":
            self._br = brotli.Compressor()
        elif name == "zstd":
            self._zstd = zstandard.ZstdCompressor().compressobj()
        elif name:
            raise ValueError(f"unknown encoding {name!r}")

    def encode(self, data: bytes) -> bytes:
        if self.name in ("gzip", "deflate"):
            return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)
        if self.name == "br":
            return self._br.process(data) + self._br.flush()
        if self.name == "zstd":
            return self._zstd.compress(data) + self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return data

    def finish(self) -> bytes:
        if self.name in ("gzip", "deflate"):
            return self._z.flush()
        if self.name == "br":
            return self._br.finish()
        if self.name == "zstd":
            return self._zstd.flush()
        return b""


def encode_all(events: list[bytes], encoding: str) -> bytes:
    """The exact body a client gets for these events (tests compare against it)."""
    encoder = Encoder(encoding)
    return b"".join(encoder.encode(e) for e in events) + encoder.finish()


# -- server --------------------------------------------------------------------------------


@dataclass
class Exchange:
    id: int
    method: str
    path: str
    headers: dict[str, str]
    received_at: float
    status: int = 0
    first_content_at: float | None = None
    content_sent_at: list[float] = field(default_factory=list)
    ended_at: float | None = None
    client_gone: bool = False
    sent_sha256: str = ""
    sent_bytes: int = 0


def parse_options(header: str) -> dict[str, str]:
    options = {}
    for pair in header.split(";"):
        key, sep, value = pair.partition("=")
        if sep:
            options[key.strip()] = value.strip()
    return options


class _Reset(Exception):
    """fault=reset: the connection is dropped with a TCP RST mid-stream."""


class FakeUpstream(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many clients connect at once in soaks and benchmarks

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up are part of the job (soaks do it on purpose): no traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], fixtures: Path | None) -> None:
        super().__init__(address, Handler)
        self.fixtures = fixtures
        self.log: list[Exchange] = []
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeUpstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        if self.path.startswith("/_fake/log"):
            with self.server.lock:
                body = json.dumps([asdict(e) for e in self.server.log]).encode()
            self._plain(200, body, "application/json")
            return
        self._handle()

    def do_POST(self) -> None:
        if self.path.startswith("/_fake/reset"):
            self._read_body()
            with self.server.lock:
                self.server.log.clear()
            self._plain(200, b"{}", "application/json")
            return
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _plain(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        body = self._read_body()
        exchange = Exchange(0, self.command, self.path, dict(self.headers.items()), time.time())
        with self.server.lock:
            exchange.id = len(self.server.log)
            self.server.log.append(exchange)
        options = parse_options(self.headers.get("x-fake", ""))
        try:
            request = json.loads(body) if body else {}
            if not isinstance(request, dict):
                request = {}
        except ValueError:
            request = {}
        try:
            self._respond(exchange, options, request, len(body))
        except _Reset:
            pass
        except (BrokenPipeError, ConnectionResetError):
            exchange.client_gone = True
            self.close_connection = True
        exchange.ended_at = time.time()

    def _respond(
        self, exchange: Exchange, options: dict[str, str], request: dict[str, Any], body_len: int
    ) -> None:
        api = api_of(self.path)
        shape = shape_of(options, request, body_len)
        status = int(options.get("status", 200))
        headers = {
            "request-id": f"req_fake_{exchange.id}",
            "x-request-id": f"req_fake_{exchange.id}",
            **RATE_LIMITS.get(options.get("ratelimit", "standard"), {}),
        }
        if "fixture" in options:
            self._fixture(exchange, options, headers)
            return
        if status >= 400:
            exchange.status = status
            if status == 429:
                headers.update(
                    {
                        "retry-after": "7",
                        "anthropic-ratelimit-requests-remaining": "0",
                        "x-ratelimit-remaining-requests": "0",
                    }
                )
            self._plain(status, json.dumps(error_body(api, status)).encode(), "application/json", headers)
            return
        exchange.status = 200
        if api == "other":
            payload = (
                {"input_tokens": shape.input_tokens}
                if "count_tokens" in self.path
                else {"object": "list", "data": [{"id": shape.model, "object": "model"}]}
            )
            self._plain(200, json.dumps(payload).encode(), "application/json", headers)
            return
        if not request.get("stream"):
            self._plain(200, json.dumps(body_for(api, shape)).encode(), "application/json", headers)
            return
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        self._stream(exchange, stream_for(api, shape, include_usage), options, headers)

    def _fixture(self, exchange: Exchange, options: dict[str, str], headers: dict[str, str]) -> None:
        if self.server.fixtures is None:
            self._plain(500, b'{"error": "no --fixtures folder"}', "application/json")
            return
        path = self.server.fixtures / options["fixture"]
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            skip = {"content-length", "transfer-encoding", "connection", "content-encoding"}
            headers = {k: v for k, v in data.get("headers", {}).items() if k.lower() not in skip}
            content_type = headers.pop("Content-Type", headers.pop("content-type", "application/json"))
            exchange.status = data.get("status", 200)
            body = (
                data["body"].encode() if isinstance(data["body"], str) else json.dumps(data["body"]).encode()
            )
            self._plain(exchange.status, body, content_type, headers)
            return
        self._stream(exchange, fixture_events(path), options, headers)

    def _stream(
        self, exchange: Exchange, events: list[Event], options: dict[str, str], headers: dict[str, str]
    ) -> None:
        encoding = options.get("encoding", "")
        interval = float(options.get("interval_ms", 0)) / 1000
        pause = float(options.get("pause_ms", 0)) / 1000
        chunk_size = int(options.get("chunk", 0))
        fault = options.get("fault", "")
        if fault == "malformed":
            events = [(b"data: {not json\n\n", False), *events[:2], (b"\xff\xfe garbage\n\n", False)]
        if fault == "truncate":
            events = events[: max(1, len(events) // 2)]
        if fault == "corrupt_encoding":  # declares gzip, sends bytes that are not
            encoding, events = "", [(b"\x1f\x8b\x08\x00not really gzip" * 4, False)]
            headers = {**headers, "content-encoding": "gzip"}
        if fault == "no_newline":  # SSE that never ends a line
            events = [(b"data: " + b"x" * 4096, False) for _ in range(int(options.get("pieces", 64)))]
        if fault == "empty":  # a zero-length chunked body
            events = []
        if "big_event_mb" in options:  # one huge content event in the middle of the stream
            size = int(float(options["big_event_mb"]) * 2**20)
            big = (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                b'"delta":{"type":"text_delta","text":"' + b"y" * size + b'"}}\n\n'
            )
            events = [*events[:3], (big, True), *events[3:]]
            chunk_size = chunk_size or 65536
        if fault == "bad_length":
            self._bad_length(exchange, events, headers)
            return
        exchange.status = 200
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        if encoding:
            self.send_header("content-encoding", encoding)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        encoder = Encoder(encoding)
        digest = hashlib.sha256()
        first = True
        pending = b""
        for index, (event, content) in enumerate(events):
            # The preamble goes out at once; pacing applies to content events only.
            if content and first:
                time.sleep(pause)
            elif content and interval:
                time.sleep(interval)
            if content and STAMP in event:  # stamp=1: the send time, for lag measurements
                event = event.replace(STAMP, b"%.6f" % time.time())
            data = encoder.encode(event)
            if fault == "reset" and index == len(events) // 2:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.close_connection = True
                raise _Reset
            if fault == "stall" and index == len(events) // 2:
                time.sleep(float(options.get("stall_s", 30)))
            if chunk_size:
                pending += data
                whole = len(pending) - len(pending) % chunk_size
                view = memoryview(pending)  # slices without copying a big body again and again
                for start in range(0, whole, chunk_size):
                    self._chunk(bytes(view[start : start + chunk_size]), digest, exchange)
                pending = pending[whole:]
            elif data:
                self._chunk(data, digest, exchange)
            if content:
                now = time.time()
                exchange.content_sent_at.append(now)
                if first:
                    exchange.first_content_at = now
                    first = False
        tail = pending + encoder.finish()
        if tail:
            self._chunk(tail, digest, exchange)
        if fault == "truncate":
            self.close_connection = True  # end without the terminating chunk
            return
        self.wfile.write(b"0\r\n\r\n")
        exchange.sent_sha256 = digest.hexdigest()

    def _bad_length(self, exchange: Exchange, events: list[Event], headers: dict[str, str]) -> None:
        """fault=bad_length: a content-length that promises more than is sent, then close."""
        body = b"".join(event for event, _ in events)
        exchange.status = 200
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body) + 1000))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        exchange.sent_bytes = len(body)
        exchange.sent_sha256 = hashlib.sha256(body).hexdigest()
        self.close_connection = True

    def _chunk(self, data: bytes, digest: Any, exchange: Exchange) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        digest.update(data)
        exchange.sent_bytes += len(data)
        exchange.sent_sha256 = digest.hexdigest()


def serve(host: str = "127.0.0.1", port: int = 0, fixtures: Path | None = None) -> FakeUpstream:
    """Start a fake upstream in a background thread; ``server.server_port`` is its port."""
    server = FakeUpstream((host, port), fixtures)
    threading.Thread(target=server.serve_forever, name="fake-upstream", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fixtures", type=Path, default=None, help="folder of .sse/.json fixtures")
    args = parser.parse_args(argv)
    server = FakeUpstream((args.host, args.port), args.fixtures)
    print(f"fake upstream listening on http://{args.host}:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
