"""A fake LLM API upstream: replays recorded fixtures and synthesises streams on demand.

Used by the tests, the benchmarks and the demo; it is the one part that stands in for the real
APIs. Each request may carry an ``x-fake`` header of ``key=value`` pairs separated by ``;``:

    fixture=NAME     replay ``NAME`` (.sse or .json) from --fixtures instead of synthesising
    tokens=N         content events in a synthetic stream (default 20)
    interval_ms=F    pause between content events (default 0)
    pause_ms=F       pause before the first content event, after the preamble went out at once
    chunk=N          split the (encoded) body into N-byte chunks instead of one chunk per event
    encoding=E       gzip | deflate | br | zstd content-encoding of the body
    status=N         answer with this HTTP status and the provider's error body
    fault=F          error_event | truncate | reset | stall | malformed | corrupt_encoding
    model=NAME       the model the response names (default: the request's)
    stamp=1          each content event's text is its send time (time.time(), 6 decimals)

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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import zstandard

Event = tuple[bytes, bool]  # (wire bytes of one SSE event, is it a content event?)


# -- synthetic bodies ----------------------------------------------------------------------


def sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


STAMP = b"@STAMP@@@@@@@@@@@"  # replaced by the send time (17 characters) with stamp=1


def words(n: int, stamp: bool = False) -> list[str]:
    return [STAMP.decode()] * n if stamp else [f" w{i}" for i in range(n)]


def anthropic_stream(
    model: str, n: int, input_tokens: int, fault: str = "", stamp: bool = False
) -> Iterator[Event]:
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "usage": usage,
    }
    yield sse({"type": "message_start", "message": message}, "message_start"), False
    yield (
        sse(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
        False,
    )
    yield sse({"type": "ping"}, "ping"), False
    for i, word in enumerate(words(n, stamp)):
        if fault == "error_event" and i == n // 2:
            yield (
                sse(
                    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"
                ),
                False,
            )
            return
        yield (
            sse(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}},
                "content_block_delta",
            ),
            True,
        )
    yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop"), False
    yield (
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": n},
            },
            "message_delta",
        ),
        False,
    )
    yield sse({"type": "message_stop"}, "message_stop"), False


def chat_stream(
    model: str, n: int, input_tokens: int, include_usage: bool, fault: str = "", stamp: bool = False
) -> Iterator[Event]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        body.update(extra)
        return sse(body)

    yield chunk({"role": "assistant", "content": ""}), False
    for i, word in enumerate(words(n, stamp)):
        if fault == "error_event" and i == n // 2:
            yield sse({"error": {"message": "The server had an error", "type": "server_error"}}), False
            return
        yield chunk({"content": word}), True
    yield chunk({}, "stop"), False
    if include_usage:
        usage = {
            "prompt_tokens": input_tokens,
            "completion_tokens": n,
            "total_tokens": input_tokens + n,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        yield (
            sse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            ),
            False,
        )
    yield sse("[DONE]"), False


def responses_stream(
    model: str, n: int, input_tokens: int, fault: str = "", stamp: bool = False
) -> Iterator[Event]:
    response = {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "status": "in_progress",
        "model": model,
        "output": [],
        "usage": None,
    }
    seq = iter(range(1_000_000))

    def event(kind: str, **body: Any) -> bytes:
        return sse({"type": kind, "sequence_number": next(seq), **body}, kind)

    yield event("response.created", response=response), False
    yield event("response.in_progress", response=response), False
    item = {"id": "msg_fake", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    yield event("response.output_item.added", output_index=0, item=item), False
    part = {"type": "output_text", "text": "", "annotations": []}
    yield (
        event("response.content_part.added", item_id="msg_fake", output_index=0, content_index=0, part=part),
        False,
    )
    for i, word in enumerate(words(n, stamp)):
        if fault == "error_event" and i == n // 2:
            yield event("error", code="server_error", message="The server had an error"), False
            return
        yield (
            event(
                "response.output_text.delta", item_id="msg_fake", output_index=0, content_index=0, delta=word
            ),
            True,
        )
    text = "".join(words(n))
    yield (
        event("response.output_text.done", item_id="msg_fake", output_index=0, content_index=0, text=text),
        False,
    )
    done = dict(
        response,
        status="completed",
        output=[
            {
                **item,
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        usage={
            "input_tokens": input_tokens,
            "output_tokens": n,
            "total_tokens": input_tokens + n,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    )
    yield event("response.completed", response=done), False


def json_body(api: str, model: str, n: int, input_tokens: int) -> dict[str, Any]:
    text = "".join(words(n))
    if api == "messages":
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": n,
            },
        }
    if api == "chat_completions":
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": input_tokens,
                "completion_tokens": n,
                "total_tokens": input_tokens + n,
            },
        }
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": model,
        "output": [
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {"input_tokens": input_tokens, "output_tokens": n, "total_tokens": input_tokens + n},
    }


def error_body(api: str, status: int) -> dict[str, Any]:
    kinds = {
        429: "rate_limit_error",
        529: "overloaded_error",
        500: "api_error",
        401: "authentication_error",
        400: "invalid_request_error",
    }
    kind = kinds.get(status, "api_error")
    if api == "messages":
        return {"type": "error", "error": {"type": kind, "message": f"fake {status}"}}
    return {"error": {"message": f"fake {status}", "type": kind, "code": None}}


def api_of(path: str) -> str:
    p = path.split("?", 1)[0].rstrip("/")
    for suffix, api in (
        ("/chat/completions", "chat_completions"),
        ("/responses", "responses"),
        ("/messages", "messages"),
    ):
        if p.endswith(suffix):
            return api
    return "other"


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
        model = options.get("model") or request.get("model") or "fake-model"
        n = int(options.get("tokens", 20))
        input_tokens = max(1, body_len // 4)
        fault = options.get("fault", "")
        status = int(options.get("status", 200))
        headers = {"request-id": f"req_fake_{exchange.id}", "x-request-id": f"req_fake_{exchange.id}"}
        if "fixture" in options:
            self._fixture(exchange, options)
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
        if api == "other":
            exchange.status = 200
            payload = (
                {"input_tokens": input_tokens}
                if "count_tokens" in self.path
                else {"object": "list", "data": [{"id": model, "object": "model"}]}
            )
            self._plain(200, json.dumps(payload).encode(), "application/json", headers)
            return
        headers.update(
            {"anthropic-ratelimit-requests-remaining": "99", "x-ratelimit-remaining-tokens": "99000"}
        )
        stamp = options.get("stamp") == "1"
        if not request.get("stream"):
            exchange.status = 200
            self._plain(
                200, json.dumps(json_body(api, model, n, input_tokens)).encode(), "application/json", headers
            )
            return
        if api == "messages":
            events = list(anthropic_stream(model, n, input_tokens, fault, stamp))
        elif api == "chat_completions":
            include = bool((request.get("stream_options") or {}).get("include_usage"))
            events = list(chat_stream(model, n, input_tokens, include, fault, stamp))
        else:
            events = list(responses_stream(model, n, input_tokens, fault, stamp))
        self._stream(exchange, events, options, headers)

    def _fixture(self, exchange: Exchange, options: dict[str, str]) -> None:
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
        self._stream(exchange, fixture_events(path), options, {"request-id": f"req_fake_{exchange.id}"})

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
                while len(pending) >= chunk_size:
                    self._chunk(pending[:chunk_size], digest, exchange)
                    pending = pending[chunk_size:]
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
