"""Incremental Server-Sent Events decoder (WHATWG event-stream interpretation).

Works on bytes: lines end only at CR, LF or CRLF (never at U+2028 and friends), a CRLF split
across two chunks is one line end, and text is decoded per complete line so UTF-8 sequences
split across chunks stay whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str
    # True for an event the stream left without its blank line (flushed by close()).
    truncated: bool = False


class SSEDecoder:
    def __init__(self) -> None:
        self._buf = b""
        self._bom_checked = False
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._event: str | None = None
        self._data: list[str] = []
        self._has_fields = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._buf + chunk if self._buf else chunk
        if not self._bom_checked:
            if len(buf) < 3 and _BOM.startswith(buf):
                self._buf = buf
                return []
            self._bom_checked = True
            if buf.startswith(_BOM):
                buf = buf[3:]
        if b"\r" in buf:
            lines = _LINE_END.split(buf)
            if buf.endswith(b"\r"):
                self._skip_lf = True
        else:
            lines = buf.split(b"\n")
        self._buf = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: read a last line without terminator and flush a pending event."""
        events: list[SSEEvent] = []
        if self._buf:
            line, self._buf = self._buf, b""
            if not self._bom_checked and line.startswith(_BOM):
                line = line[3:]
            self._line(line)
        if self._has_fields:
            event = self._dispatch()
            if event is not None:
                event.truncated = True
                events.append(event)
        return events

    def _line(self, line: bytes) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == 0x3A:  # ":" comment / keep-alive
            return None
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
            self._has_fields = True
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
            self._has_fields = True
        # id, retry and unknown fields carry nothing the metrics need.
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._has_fields:
            return None
        event = SSEEvent(self._event or None, "\n".join(self._data))
        self._event = None
        self._data = []
        self._has_fields = False
        return event
