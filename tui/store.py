"""The dashboard's model: every request seen, keyed by id, independent of any widget.

Feed messages are grouped into a ``Batch`` (latest state per id) and applied to the
``RequestStore`` a few times a second; ``apply`` says which rows were added, updated or removed so
the widgets redraw only those.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from metrics.record import FINAL_STATES, Record


@dataclass(slots=True)
class Batch:
    """Feed updates waiting to be shown: the newest state of each request, in order of arrival.

    ``since_hello`` is set when a (re)connection happened in this batch: the ids heard since that
    hello, that is the new snapshot plus live updates. Requests in flight that the new snapshot
    does not mention were lost with the old connection.
    """

    records: dict[str, Record] = field(default_factory=dict)
    since_hello: set[str] | None = None

    def add(self, record: Record) -> None:
        self.records[record.id] = record  # a later state replaces an earlier one in place
        if self.since_hello is not None:
            self.since_hello.add(record.id)

    def merge(self, newer: Batch) -> None:
        """Fold a later batch into this one (while the view is paused)."""
        self.records.update(newer.records)
        if newer.since_hello is not None:
            self.since_hello = set(newer.since_hello)
        elif self.since_hello is not None:
            self.since_hello.update(newer.records)

    def __bool__(self) -> bool:
        return bool(self.records) or self.since_hello is not None

    def __len__(self) -> int:
        return len(self.records)


@dataclass(slots=True)
class Entry:
    record: Record
    order: int  # first-seen sequence: the table shows the highest first
    lost: bool = False  # was in flight when the feed went away, unknown to the new snapshot

    @property
    def in_flight(self) -> bool:
        return not self.lost and self.record.state not in FINAL_STATES


@dataclass(slots=True)
class Changes:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    @property
    def touched(self) -> set[str]:
        return {*self.added, *self.updated, *self.removed}


class RequestStore:
    """All requests since the app started (or since the last clear), upserted by id."""

    def __init__(self, max_rows: int = 10_000) -> None:
        self.max_rows = max_rows
        self._entries: dict[str, Entry] = {}
        self._next_order = 0
        # Ids the user cleared (or that were evicted): a reconnect snapshot must not bring them back.
        self._forgotten: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def entries(self) -> Iterable[Entry]:
        return self._entries.values()

    def newest_first(self) -> Iterator[Entry]:
        # Entries are inserted in order, so reversing the dict is newest first without sorting.
        return reversed(self._entries.values())

    def apply(self, batch: Batch) -> Changes:
        changes = Changes()
        for key, record in batch.records.items():
            self._upsert(key, record, changes)
        if batch.since_hello is not None:
            self._mark_lost(batch.since_hello, changes)
        self._evict(changes)
        return changes

    def _upsert(self, key: str, record: Record, changes: Changes) -> None:
        if key in self._forgotten:
            return
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = Entry(record, self._next_order)
            self._next_order += 1
            changes.added.append(key)
        else:
            entry.record = record  # the feed sends whole states: replace, never merge
            entry.lost = False
            changes.updated.append(key)

    def _mark_lost(self, heard: set[str], changes: Changes) -> None:
        for key, entry in self._entries.items():
            if entry.in_flight and key not in heard:
                entry.lost = True
                changes.updated.append(key)

    def _evict(self, changes: Changes) -> None:
        excess = len(self._entries) - self.max_rows
        if excess <= 0:
            return
        # Oldest finished requests go first; one still in flight only if nothing else is left.
        victims = [k for k, e in self._entries.items() if not e.in_flight][:excess]
        if len(victims) < excess:
            chosen = set(victims)
            victims += [k for k in self._entries if k not in chosen][: excess - len(victims)]
        for key in victims:
            del self._entries[key]
            self._forgotten.add(key)
            changes.removed.append(key)

    def clear(self) -> list[str]:
        """Forget every request shown so far; returns their ids."""
        keys = list(self._entries)
        self._forgotten.update(keys)
        self._entries.clear()
        return keys
