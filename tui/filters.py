"""Which requests the table shows: provider, model, state and a free-text search."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from metrics.record import ABORTED, DONE, ERROR
from tui.aggregate import UNKNOWN_MODEL
from tui.store import Entry

IN_FLIGHT = "in flight"
LOST = "lost"
STATE_CHOICES: tuple[str, ...] = (IN_FLIGHT, DONE, ERROR, ABORTED, LOST)

# The fields the free-text search looks at: what a user remembers about a request.
_SEARCHED = (
    "id",
    "provider",
    "api",
    "method",
    "path",
    "model",
    "state",
    "stop_reason",
    "error_type",
    "error_message",
    "request_id",
)


def state_of(entry: Entry) -> str:
    """The state as the dashboard names it (lost and in flight are the TUI's own words)."""
    if entry.lost:
        return LOST
    return IN_FLIGHT if entry.in_flight else entry.record.state


@dataclass(frozen=True, slots=True)
class RowFilter:
    provider: str | None = None
    model: str | None = None
    state: str | None = None
    text: str = ""

    @property
    def active(self) -> bool:
        return any((self.provider, self.model, self.state, self.text))

    def matches(self, entry: Entry) -> bool:
        record = entry.record
        if self.provider is not None and record.provider != self.provider:
            return False
        if self.model is not None and (record.model or UNKNOWN_MODEL) != self.model:
            return False
        if self.state is not None and state_of(entry) != self.state:
            return False
        return not self.text or self._text_matches(entry)

    def _text_matches(self, entry: Entry) -> bool:
        needle = self.text.casefold()
        record = entry.record
        haystack = [str(getattr(record, name) or "") for name in _SEARCHED]
        haystack.append("" if record.status is None else str(record.status))
        return any(needle in value.casefold() for value in haystack)

    def describe(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (("provider", self.provider), ("model", self.model), ("state", self.state))
            if value
        ]
        if self.text:
            parts.append(f"search={self.text!r}")
        return " ".join(parts)

    def with_(self, **changes: str | None) -> RowFilter:
        return replace(self, **changes)


def cycle(current: str | None, choices: Sequence[str]) -> str | None:
    """The next choice after ``current``; after the last one, back to no filter (None)."""
    options: list[str | None] = [None, *choices]
    try:
        position = options.index(current)
    except ValueError:
        position = 0
    return options[(position + 1) % len(options)]


def seen_values(entries: Iterable[Entry], attribute: str) -> list[str]:
    """The distinct values of a record attribute, sorted, for cycling through a filter."""
    values = {
        getattr(e.record, attribute) or (UNKNOWN_MODEL if attribute == "model" else "") for e in entries
    }
    return sorted(v for v in values if v)
