"""``livetoken tail``: the feed as JSON lines, for jq and friends."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from metrics.feed import FeedError, NotAFeedError, iter_feed, resolve_socket_path

RETRY_S = 1.0


def tail(
    socket_path: str | None,
    *,
    final_only: bool = False,
    hello: bool = False,
    follow: bool = True,
    out: TextIO = sys.stdout,
) -> int:
    """Print feed messages until interrupted; reconnect when the proxy restarts."""
    path = resolve_socket_path(socket_path)
    waiting_said = False
    while True:
        try:
            for message in iter_feed(path):
                waiting_said = False
                if message.get("type") == "hello":
                    if hello:
                        _print(message, out)
                    continue
                if final_only and message.get("state") not in ("done", "error", "aborted"):
                    continue
                _print(message, out)
        except NotAFeedError as exc:
            print(f"livetoken tail: {exc}", file=sys.stderr)
            return 2
        except FeedError as exc:
            if not follow:
                print(f"livetoken tail: {exc}", file=sys.stderr)
                return 1
            if not waiting_said:
                print(f"livetoken tail: waiting for the proxy ({exc})", file=sys.stderr)
                waiting_said = True
        if not follow:
            return 0
        time.sleep(RETRY_S)


def _print(message: dict, out: TextIO) -> None:
    out.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n")
    out.flush()
