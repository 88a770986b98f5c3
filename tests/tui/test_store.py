"""The request store: upsert by id, snapshots after a reconnect, clear, eviction, paused batches."""

from __future__ import annotations

from metrics.record import DONE, STREAMING, Record
from tui.store import Batch, RequestStore


def batch(*records: Record, hello: bool = False) -> Batch:
    out = Batch(since_hello=set() if hello else None)
    for record in records:
        out.add(record)
    return out


def test_upsert_replaces_the_whole_state_and_keeps_first_seen_order() -> None:
    store = RequestStore()
    changes = store.apply(batch(Record(id="a", state=STREAMING, output_tokens=3), Record(id="b")))
    assert changes.added == ["a", "b"] and not changes.updated
    changes = store.apply(batch(Record(id="a", state=DONE, output_tokens=9)))
    assert changes.updated == ["a"] and not changes.added
    assert store.get("a").record.output_tokens == 9  # type: ignore[union-attr]
    assert [e.record.id for e in store.newest_first()] == ["b", "a"]
    assert len(store) == 2


def test_a_batch_keeps_only_the_latest_state_per_request() -> None:
    pending = batch(Record(id="a", chunks=1), Record(id="b"), Record(id="a", chunks=5))
    assert list(pending.records) == ["a", "b"] and pending.records["a"].chunks == 5


def test_reconnect_snapshot_marks_vanished_in_flight_requests_lost() -> None:
    store = RequestStore()
    store.apply(
        batch(
            Record(id="gone", state=STREAMING),
            Record(id="kept", state=STREAMING),
            Record(id="old", state=DONE),
        )
    )
    changes = store.apply(batch(Record(id="kept", state=DONE), hello=True))
    assert store.get("gone").lost and not store.get("gone").in_flight  # type: ignore[union-attr]
    assert not store.get("kept").lost and not store.get("old").lost  # type: ignore[union-attr]
    assert set(changes.updated) == {"kept", "gone"}
    # A later update brings a "lost" request back to life.
    store.apply(batch(Record(id="gone", state=DONE)))
    assert not store.get("gone").lost  # type: ignore[union-attr]


def test_an_empty_snapshot_still_marks_lost() -> None:
    store = RequestStore()
    store.apply(batch(Record(id="a", state=STREAMING)))
    pending = batch(hello=True)
    assert pending  # a hello with no records is still news
    store.apply(pending)
    assert store.get("a").lost  # type: ignore[union-attr]


def test_merging_paused_batches_keeps_the_newest_hello() -> None:
    held = batch(Record(id="a", state=STREAMING))
    held.merge(batch(Record(id="b"), hello=True))
    held.merge(batch(Record(id="c")))
    assert list(held.records) == ["a", "b", "c"]
    assert held.since_hello == {"b", "c"}  # heard from since the reconnect; "a" was before it


def test_clear_forgets_requests_and_a_snapshot_does_not_bring_them_back() -> None:
    store = RequestStore()
    store.apply(batch(Record(id="a", state=DONE)))
    assert store.clear() == ["a"]
    changes = store.apply(batch(Record(id="a", state=DONE), Record(id="new"), hello=True))
    assert changes.added == ["new"] and "a" not in store


def test_eviction_drops_the_oldest_finished_request_first() -> None:
    store = RequestStore(max_rows=2)
    store.apply(batch(Record(id="streaming", state=STREAMING), Record(id="old", state=DONE)))
    changes = store.apply(batch(Record(id="new", state=DONE)))
    assert changes.removed == ["old"]
    assert [e.record.id for e in store.newest_first()] == ["new", "streaming"]
