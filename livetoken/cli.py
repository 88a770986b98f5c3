"""``livetoken``: the proxy and the live table in one terminal, a demo, a headless proxy, the feed."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from livetoken.launcher import LaunchError, Proxy, ProxySettings, state_dir
from livetoken.tail import tail
from livetoken.web import DEFAULT_WEB_PORT
from metrics.config import DEFAULT_ANTHROPIC_UPSTREAM, read_env
from metrics.feed import resolve_socket_path
from metrics.history import HistoryError

if TYPE_CHECKING:
    from livetoken.web.server import WebServer


def build_parser() -> argparse.ArgumentParser:
    proxy_options = argparse.ArgumentParser(add_help=False)
    proxy_options.add_argument("--port", type=int, help="listen port (default: LIVETOKEN_PORT, else 7357)")
    proxy_options.add_argument(
        "--host",
        default="127.0.0.1",
        help="listen address (default 127.0.0.1; 0.0.0.0 serves other machines)",
    )
    proxy_options.add_argument("--socket", help="feed socket (default: LIVETOKEN_SOCKET, else per-user path)")
    proxy_options.add_argument(
        "--allow-remote-key", action="store_true", help="allow API_KEY while listening beyond loopback"
    )
    table_options = argparse.ArgumentParser(add_help=False)
    table_options.add_argument(
        "--web-port", type=int, default=DEFAULT_WEB_PORT, help=f"web panel port (default {DEFAULT_WEB_PORT})"
    )
    # The bare command is `livetoken run`: its options work without the word (livetoken --port 7358).
    parser = argparse.ArgumentParser(
        prog="livetoken",
        description="Live monitor for LLM API traffic. Without a command: the proxy and "
        "the live table in this terminal.",
        parents=[proxy_options, table_options],
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "run", parents=[proxy_options, table_options], help="the proxy and the live table (the default)"
    )
    commands.add_parser(
        "demo",
        parents=[proxy_options, table_options],
        help="the same with a local fake API and demo traffic: no key, no network",
    )
    commands.add_parser("proxy", parents=[proxy_options], help="the proxy alone, logging to this terminal")
    p_web = commands.add_parser("web", help="the live panel in a browser, over the feed")
    p_web.add_argument("--port", type=int, default=DEFAULT_WEB_PORT, help=f"default {DEFAULT_WEB_PORT}")
    p_web.add_argument(
        "--host", default="127.0.0.1", help="listen address (default 127.0.0.1; 0.0.0.0 serves others)"
    )
    p_web.add_argument("--socket", help="feed socket (default: LIVETOKEN_SOCKET, else per-user path)")
    p_tail = commands.add_parser("tail", help="print the feed as JSON lines (one per update)")
    p_tail.add_argument("--socket", help="feed socket (default: LIVETOKEN_SOCKET, else per-user path)")
    p_tail.add_argument("--final", action="store_true", help="only final records (done, error, aborted)")
    p_tail.add_argument("--hello", action="store_true", help="also print the feed's hello message")
    p_tail.add_argument(
        "--once", action="store_true", help="exit when the proxy goes away instead of waiting"
    )
    p_report = commands.add_parser("report", help="requests, tokens, cost and speed from the history")
    p_report.add_argument(
        "--db", help="history database (default: LIVETOKEN_DB, else ~/.local/share/livetoken)"
    )
    p_report.add_argument("--since", help="24h, 7d, 30m or a date (default: everything)")
    p_report.add_argument("--by", choices=["model", "provider", "day", "hour"], default="model")
    formats = p_report.add_mutually_exclusive_group()
    formats.add_argument("--json", dest="format", action="store_const", const="json")
    formats.add_argument("--csv", dest="format", action="store_const", const="csv")
    p_export = commands.add_parser("export", help="the raw records from the history")
    p_export.add_argument(
        "--db", help="history database (default: LIVETOKEN_DB, else ~/.local/share/livetoken)"
    )
    p_export.add_argument("--since", help="24h, 7d, 30m or a date (default: everything)")
    p_export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    parser.set_defaults(command="run")
    return parser


def settings_from(args: argparse.Namespace, log_name: str | None) -> ProxySettings:
    env = read_env()
    if env.errors:
        raise LaunchError("; ".join(env.errors))
    return ProxySettings(
        port=args.port or env.port,
        host=args.host,
        anthropic_upstream=env.anthropic_upstream or DEFAULT_ANTHROPIC_UPSTREAM,
        openai_upstream=env.openai_upstream,
        socket=args.socket or "",
        log_path=state_dir() / log_name if log_name else None,
        api_key=env.api_key,
        allow_remote_key=args.allow_remote_key,
    )


def start_web(socket_path: str, port: int) -> tuple[WebServer | None, str]:
    """The web panel beside the table, and what the connection line says about it.

    A busy port costs the panel, not the run: the table is what the user asked for.
    """
    from livetoken.web.server import WebServer

    try:
        server = WebServer(socket_path, "127.0.0.1", port, quiet=True).start()
    except LaunchError as exc:
        return None, f"no web panel ({exc})"
    return server, f"web {server.url}"


def run_with_table(settings: ProxySettings, demo: bool, web_port: int = DEFAULT_WEB_PORT) -> int:
    from livetoken.demo import Demo
    from tui.app import LiveTokenApp

    fake = Demo() if demo else None
    if fake is not None:
        settings.anthropic_upstream = fake.upstream_url
        settings.openai_upstream = fake.upstream_url + "/v1"
        # Demo traffic is not the user's: a history of its own, and a feed of its own unless one is
        # named, so a demo next to a real LiveToken neither mixes nor collides with it.
        settings.env["LIVETOKEN_DB"] = str(state_dir() / "demo-history.db")
        if not settings.socket and not os.environ.get("LIVETOKEN_SOCKET"):
            settings.socket = str(Path(resolve_socket_path()).with_name("demo.sock"))
    proxy = web = None
    try:
        proxy = Proxy(settings).wait_ready()
        web, web_note = start_web(settings.socket_path, web_port)
        if fake is not None:
            fake.start_traffic(settings.port)
        app = LiveTokenApp(settings.socket_path)
        app.title = "LiveToken demo" if demo else "LiveToken"
        app.sub_title = f"proxy {settings.url} · {web_note} · log {settings.log_path}"
        app.run()
    finally:
        if web is not None:
            web.stop()
        if fake is not None:
            fake.stop()
        if proxy is not None:
            proxy.stop()
    print(f"LiveToken stopped. The proxy's log: {settings.log_path}")
    return 0


def run_headless(settings: ProxySettings) -> int:
    proxy = Proxy(settings)
    print(f"LiveToken proxy on {settings.url}, feed {settings.socket_path}  (Ctrl-C stops it)", flush=True)
    try:
        return proxy.process.wait()
    except KeyboardInterrupt:
        proxy.stop()
        return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "tail":
            return tail(args.socket, final_only=args.final, hello=args.hello, follow=not args.once)
        if args.command in ("report", "export"):
            from livetoken.report import export, report

            db = args.db or read_env().db
            if not db:
                print("livetoken: history is off (LIVETOKEN_DB is empty); name a database with --db",
                      file=sys.stderr)
                return 2
            if args.command == "report":
                return report(db, args.since, args.by, args.format or "table")
            return export(db, args.since, args.format)
        if args.command == "web":
            from livetoken.web.server import serve

            return serve(resolve_socket_path(args.socket), args.host, args.port)
        if args.command == "proxy":
            return run_headless(settings_from(args, None))
        demo = args.command == "demo"
        return run_with_table(
            settings_from(args, "demo-proxy.log" if demo else "proxy.log"), demo, args.web_port
        )
    except (LaunchError, HistoryError, ValueError) as exc:
        print(f"livetoken: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `livetoken tail | head` closed the pipe
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
