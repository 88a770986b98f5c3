"""Incremental decoding of a *copy* of a content-encoded body (gzip, deflate, br, zstd).

The client always gets the original bytes; these decoders only feed the parser.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli
import zstandard


class DecodeError(Exception):
    """The body is not valid data for its declared content-encoding."""


class Decoder(Protocol):
    def decode(self, data: bytes) -> bytes: ...


class _Identity:
    def decode(self, data: bytes) -> bytes:
        return data


class _Zlib:
    def __init__(self, wbits: int) -> None:
        self._obj = zlib.decompressobj(wbits)

    def decode(self, data: bytes) -> bytes:
        try:
            return self._obj.decompress(data)
        except zlib.error as exc:
            raise DecodeError(str(exc)) from exc


class _Deflate:
    """HTTP "deflate" is meant to be zlib-wrapped, but raw deflate is common: sniff it."""

    def __init__(self) -> None:
        self._inner: _Zlib | None = None
        self._head = b""

    def decode(self, data: bytes) -> bytes:
        if self._inner is None:
            data = self._head + data
            if len(data) < 2:  # the two header bytes may arrive one at a time
                self._head = data
                return b""
            # A zlib header: CM = 8 in the low nibble and the pair divisible by 31; else raw deflate.
            zlib_wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = _Zlib(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        return self._inner.decode(data)


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def decode(self, data: bytes) -> bytes:
        try:
            return self._obj.process(data)
        except brotli.error as exc:
            raise DecodeError(str(exc)) from exc


class _Zstd:
    def __init__(self) -> None:
        self._obj = zstandard.ZstdDecompressor().decompressobj()

    def decode(self, data: bytes) -> bytes:
        try:
            return self._obj.decompress(data)
        except zstandard.ZstdError as exc:
            raise DecodeError(str(exc)) from exc


class _Chain:
    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders

    def decode(self, data: bytes) -> bytes:
        for decoder in self._decoders:
            data = decoder.decode(data)
        return data


_FACTORIES = {
    "identity": _Identity,
    "gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "deflate": _Deflate,
    "br": _Brotli,
    "zstd": _Zstd,
}


def make_decoder(content_encoding: str | None) -> Decoder:
    """A decoder for a Content-Encoding header value; raises DecodeError for unknown codings."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    if not codings:
        return _Identity()
    unknown = [c for c in codings if c not in _FACTORIES]
    if unknown:
        raise DecodeError(f"unsupported content-encoding: {', '.join(unknown)}")
    # Codings are listed in the order they were applied; undo them last first.
    decoders = [_FACTORIES[c]() for c in reversed(codings)]
    return decoders[0] if len(decoders) == 1 else _Chain(decoders)
