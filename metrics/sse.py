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
    # A line longer than this is dropped (and counted) instead of buffered without bound:
    # no real event comes near it, and a stream that never sends a newline must not eat memory.
    MAX_LINE = 16 * 1024 * 1024

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # bytes of the line still waiting for its end
        self._pending_len = 0
        self._overlong = False  # inside a line that passed MAX_LINE: skip to its end
        self.oversized_lines = 0
        self._bom_checked = False
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._event: str | None = None
        self._data: list[str] = []
        self._has_fields = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []
        if not self._bom_checked:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return []
        if b"\n" not in chunk and b"\r" not in chunk:
            self._hold(chunk)  # no line ends here: keep it without copying what came before
            return []
        buf = b"".join(self._pending) + chunk if self._pending else chunk
        self._pending = []
        self._pending_len = 0
        if b"\r" in buf:
            lines = _LINE_END.split(buf)
            if buf.endswith(b"\r"):
                self._skip_lf = True
        else:
            lines = buf.split(b"\n")
        rest = lines.pop()
        if self._overlong:
            self._overlong = False
            lines.pop(0)  # the end of the dropped line
        if rest:
            self._hold(rest)
        events: list[SSEEvent] = []
        for line in lines:
            # The two common lines inline (this runs for every event the proxy sees).
            if line.startswith(b"data: "):
                self._data.append(line[6:].decode("utf-8", "replace"))
                self._has_fields = True
            elif line:
                self._line(line)
            elif self._has_fields:
                events.append(self._dispatch())
        return events

    def _hold(self, part: bytes) -> None:
        if self._overlong:
            return
        self._pending.append(part)
        self._pending_len += len(part)
        if self._pending_len > self.MAX_LINE:
            self._pending = []
            self._pending_len = 0
            self._overlong = True
            self.oversized_lines += 1

    def _strip_bom(self, chunk: bytes) -> bytes:
        head = b"".join(self._pending) + chunk if self._pending else chunk
        if len(head) < 3 and _BOM.startswith(head):
            self._pending = [head]  # too short to tell yet
            self._pending_len = len(head)
            return b""
        self._bom_checked = True
        self._pending = []
        self._pending_len = 0
        return head[3:] if head.startswith(_BOM) else head

    def close(self) -> list[SSEEvent]:
        """End of stream: read a last line without terminator and flush a pending event."""
        events: list[SSEEvent] = []
        if self._pending and not self._overlong:
            line = b"".join(self._pending)
            self._pending = []
            if not self._bom_checked and line.startswith(_BOM):
                line = line[3:]
            self._line(line)
        if self._has_fields:
            event = self._dispatch()
            if event is not None:
                event.truncated = True
                events.append(event)
        return events

    def _line(self, line: bytes) -> None:
        """One non-empty line: a field or a comment (feed() handles the blank line that ends an event)."""
        if line[0] == 0x3A:  # ":" comment / keep-alive
            return
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

    def _dispatch(self) -> SSEEvent | None:
        if not self._has_fields:
            return None
        data = self._data
        event = SSEEvent(self._event or None, data[0] if len(data) == 1 else "\n".join(data))
        self._event = None
        self._data = []
        self._has_fields = False
        return event
