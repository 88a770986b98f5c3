"""``livetoken``: command-line entry point."""

from __future__ import annotations

import argparse
import sys

from livetoken.tail import tail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livetoken", description="Live monitor for LLM API traffic.")
    commands = parser.add_subparsers(dest="command", required=True)
    p_tail = commands.add_parser("tail", help="print the feed as JSON lines (one per update)")
    p_tail.add_argument("--socket", help="feed socket (default: LIVETOKEN_SOCKET, else per-user path)")
    p_tail.add_argument("--final", action="store_true", help="only final records (done, error, aborted)")
    p_tail.add_argument("--hello", action="store_true", help="also print the feed's hello message")
    p_tail.add_argument(
        "--once", action="store_true", help="exit when the proxy goes away instead of waiting for it"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "tail":
            return tail(args.socket, final_only=args.final, hello=args.hello, follow=not args.once)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `livetoken tail | head` closed the pipe
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
