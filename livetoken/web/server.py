"""``livetoken web``: the page, its assets and the ``/ws`` relay, served by uvicorn.

The listening socket is bound before uvicorn starts, so a port in use is a one-line refusal here
rather than a traceback from inside the server; the launcher uses the same ``WebServer`` in a
thread beside the TUI.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from livetoken.launcher import LaunchError
from livetoken.web import DEFAULT_WEB_PORT
from livetoken.web.relay import Client, FeedRelay

STATIC = Path(__file__).with_name("static")


def create_app(socket_path: str) -> Starlette:
    relay = FeedRelay(socket_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        relay.start()  # one feed subscription for every browser
        yield
        await relay.stop()

    async def index(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        client = relay.connect()
        # The page never talks, but listening is how a closed tab (or a server shutting down)
        # is noticed while the sender waits for the next update.
        sender = asyncio.ensure_future(_send(websocket, client))
        listener = asyncio.ensure_future(_drain(websocket))
        try:
            await asyncio.wait((sender, listener), return_when=asyncio.FIRST_COMPLETED)
        finally:
            relay.disconnect(client)
            for task in (sender, listener):
                task.cancel()
            with contextlib.suppress(Exception):
                await websocket.close()

    app = Starlette(
        routes=[
            Route("/", index),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            WebSocketRoute("/ws", feed),
        ],
        lifespan=lifespan,
    )
    app.state.relay = relay
    return app


async def _send(websocket: WebSocket, client: Client) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        while (message := await client.queue.get()) is not None:
            await websocket.send_json(message)


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a LaunchError that says what to change."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise LaunchError(
                f"web port {port} on {host} is in use: stop what runs there, or pick another with --port"
            ) from None
        raise LaunchError(f"cannot serve the web panel on {host}:{port}: {exc.strerror}") from None
    return sock


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


class WebServer:
    """uvicorn on a pre-bound socket; ``run()`` in the foreground or ``start()`` in a thread."""

    def __init__(
        self, socket_path: str, host: str = "127.0.0.1", port: int = DEFAULT_WEB_PORT, *, quiet: bool = False
    ) -> None:
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]  # port 0 picks a free one (tests)
        self.url = url_for(host, self.port)
        self._thread: threading.Thread | None = None
        # wsproto: mitmproxy already depends on it, so WebSockets need no extra package.
        config = uvicorn.Config(
            create_app(socket_path),
            ws="wsproto",
            lifespan="on",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=2,
            # Beside the TUI nothing may write to the terminal: uvicorn's logs go nowhere then.
            log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        )
        if quiet:
            logger = logging.getLogger("uvicorn")
            logger.handlers[:] = [logging.NullHandler()]
            logger.propagate = False
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self) -> WebServer:
        self._thread = threading.Thread(target=self._serve, name="livetoken-web", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def stop(self, timeout: float = 5) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self.sock.close()


def serve(socket_path: str, host: str, port: int) -> int:
    """``livetoken web``: serve until Ctrl-C."""
    server = WebServer(socket_path, host, port)
    print(f"LiveToken web panel on {server.url}, feed {socket_path}  (Ctrl-C stops it)", flush=True)
    server.run()
    return 0
