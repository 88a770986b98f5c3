"""Token estimates for responses that carry no usage (tiktoken, with an offline fallback).

The encoding loads in a background thread so the proxy's event loop never waits for it.
tiktoken reads ``TIKTOKEN_CACHE_DIR`` first; with no cache and no network, or while the
encoding is still loading, counts fall back to about four characters per token (OpenAI's
rule of thumb), and ``method`` says which was used.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

APPROX_METHOD = "approx:4-chars-per-token"
# Keys whose string values are not prompt text.
_SKIP_KEYS = frozenset({"model", "role", "type", "id", "tool_call_id", "cache_control", "signature"})


def approx_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class TokenEstimator:
    def __init__(self, encoding_name: str = "o200k_base") -> None:
        self.encoding_name = encoding_name
        self._encoding: Any = None
        self.failure: str | None = None
        self.loaded = threading.Event()

    def start(self) -> TokenEstimator:
        threading.Thread(target=self._load, name="livetoken-tiktoken", daemon=True).start()
        return self

    def _load(self) -> None:
        try:
            import tiktoken

            self._encoding = tiktoken.get_encoding(self.encoding_name)
        except Exception as exc:  # no cache and no network, a damaged file, no tiktoken at all
            self.failure = f"{type(exc).__name__}: {str(exc)[:160]}"
            log.warning(
                "tiktoken %s unavailable (%s). Token estimates use %s; point "
                "TIKTOKEN_CACHE_DIR at a folder holding the encoding to count exactly.",
                self.encoding_name,
                type(exc).__name__,
                APPROX_METHOD,
            )
        finally:
            self.loaded.set()

    @property
    def method(self) -> str:
        return f"tiktoken:{self.encoding_name}" if self._encoding is not None else APPROX_METHOD

    def count(self, text: str) -> int:
        if not text:
            return 0
        encoding = self._encoding
        if encoding is None:
            return approx_tokens(text)
        return len(encoding.encode_ordinary(text))

    def count_prompt(self, request_body: bytes | None) -> int | None:
        """Estimate the prompt tokens of a JSON request body (all its text values)."""
        if not request_body:
            return None
        try:
            data = json.loads(request_body)
        except ValueError:
            return None
        return self.count("\n".join(_strings(data)))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _SKIP_KEYS:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
