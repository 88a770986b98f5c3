"""Every final record in SQLite: written in batches by a thread of its own, read back at start.

WAL mode, one commit at most a second (a crash loses at most the last second), a schema version
in the database and forward migrations. The proxy's event loop only puts records on a queue.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from metrics.record import RECORD_FIELDS, Record

log = logging.getLogger("livetoken")

FLUSH_S = 1.0
_INTEGER = {
    "status",
    "chunks",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
}
_REAL = {
    "started_at",
    "ttfb_ms",
    "ttft_ms",
    "duration_ms",
    "output_tokens_per_s",
    "tpot_ms",
    "itl_p50_ms",
    "itl_p95_ms",
    "itl_max_ms",
    "cost_usd",
}
_BOOL = {"stream", "tokens_estimated"}


class HistoryError(Exception):
    """The history database cannot be used; the message says what to change."""


def default_db_path() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "livetoken", "history.db")


def _column(name: str) -> str:
    kind = "INTEGER" if name in _INTEGER | _BOOL else "REAL" if name in _REAL else "TEXT"
    return f"{name} {kind}" + (" PRIMARY KEY" if name == "id" else "")


# Migrations: index i takes the schema from version i to i + 1. Only ever append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    lambda db: db.executescript(
        f"CREATE TABLE requests ({', '.join(_column(n) for n in RECORD_FIELDS)});"
        "CREATE INDEX requests_started_at ON requests (started_at);"
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)

HINT = "set LIVETOKEN_DB to another file, or LIVETOKEN_DB= (empty) to run without history"


def connect(path: str, *, create: bool = True) -> sqlite3.Connection:
    """Open (and migrate) the history database, or raise HistoryError saying why not."""
    if create:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"cannot create the folder for {path}: {exc.strerror}; {HINT}") from exc
    elif not os.path.exists(path):
        raise HistoryError(f"no history database at {path}")
    try:
        db = sqlite3.connect(path, timeout=2, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        _migrate(db, path)
    except sqlite3.DatabaseError as exc:
        raise HistoryError(_explain(exc, path)) from exc
    return db


def _explain(exc: sqlite3.DatabaseError, path: str) -> str:
    text = str(exc)
    if "not a database" in text:
        return f"{path} is not a LiveToken history database (not SQLite); {HINT}"
    if "locked" in text or "busy" in text:
        return f"{path} is locked by another program; {HINT}"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return f"cannot write {path} ({text}); {HINT}"
    return f"cannot use {path}: {text}; {HINT}"


def _migrate(db: sqlite3.Connection, path: str) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{path} was written by a newer LiveToken (schema {version}, this one reads "
            f"{SCHEMA_VERSION}); update LiveToken, or {HINT}"
        )
    if version == 0 and db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
        # Version 0 with tables of its own: some other program's database, not an empty new one.
        raise HistoryError(f"{path} is another program's SQLite database, not LiveToken's history; {HINT}")
    with db:
        for migrate in MIGRATIONS[version:]:
            migrate(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def to_row(record: Record) -> tuple[Any, ...]:
    data = record.to_dict()
    data["rate_limits"] = json.dumps(data["rate_limits"]) if data["rate_limits"] else None
    return tuple(data[name] for name in RECORD_FIELDS)


def from_row(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    data = dict(zip(RECORD_FIELDS, row, strict=True))
    data["rate_limits"] = json.loads(data["rate_limits"]) if data["rate_limits"] else {}
    for name in _BOOL:
        if data[name] is not None:
            data[name] = bool(data[name])
    return data


def read(
    db: sqlite3.Connection, since: float | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Records oldest first; ``limit`` keeps the most recent ones."""
    where, args = ("WHERE started_at >= ?", [since]) if since is not None else ("", [])
    columns = ", ".join(RECORD_FIELDS)
    if limit is None:
        rows = db.execute(f"SELECT {columns} FROM requests {where} ORDER BY started_at", args).fetchall()
    else:
        rows = db.execute(
            f"SELECT {columns} FROM requests {where} ORDER BY started_at DESC LIMIT ?", [*args, limit]
        ).fetchall()[::-1]
    return [from_row(row) for row in rows]


class HistoryWriter:
    """Queues final records on the event loop; a thread writes them in batches."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.db = connect(path)  # at start-up, so a bad path stops the proxy with a message
        self._queue: queue.SimpleQueue[Record | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="livetoken-history", daemon=True)
        self.written = 0
        self.failure: str | None = None

    def start(self) -> HistoryWriter:
        self._thread.start()
        return self

    def recent(self, limit: int) -> list[dict[str, Any]]:
        return read(self.db, limit=limit)

    def add(self, record: Record) -> None:
        self._queue.put(record)

    def close(self, timeout: float = 5) -> None:
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.db.close()

    def _run(self) -> None:
        placeholders = ", ".join("?" for _ in RECORD_FIELDS)
        sql = f"INSERT OR REPLACE INTO requests ({', '.join(RECORD_FIELDS)}) VALUES ({placeholders})"
        for batch in self._batches():
            try:
                with self.db:
                    self.db.executemany(sql, [to_row(r) for r in batch])
                self.written += len(batch)
            except sqlite3.Error as exc:  # a full disk must not take the proxy down: say it once
                if self.failure is None:
                    self.failure = f"history not written to {self.path}: {exc}"
                    log.error("livetoken: %s", self.failure)

    def _batches(self) -> Iterator[list[Record]]:
        """Batches of records, each written at most FLUSH_S after its first record arrived."""
        batch: list[Record] = []
        deadline = 0.0
        while True:
            try:
                wait = max(0.0, deadline - time.monotonic()) if batch else None
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                yield batch
                batch = []
                continue
            if item is None:
                if batch:
                    yield batch
                return
            if not batch:
                deadline = time.monotonic() + FLUSH_S
            batch.append(item)
            if len(batch) >= 500:
                yield batch
                batch = []
