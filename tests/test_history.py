"""History, cost and reports: records in SQLite, priced by genai-prices, summed per group."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from livetoken.report import REPORT_KEYS, export, parse_since, report, summarise
from metrics import history
from metrics.cost import cost_usd
from metrics.history import HistoryError, HistoryWriter, connect, read
from metrics.record import RECORD_FIELDS, Record
from tests.conftest import ROOT
from tests.proxy import FakeUpstreamProcess, FeedReader, Mitmdump

DAY = dt.datetime(2026, 12, 1, 9, 30).timestamp()


def known_records() -> list[Record]:
    return [
        Record(
            id="a1",
            state="done",
            provider="anthropic",
            api="messages",
            model="claude-sonnet-4-5",
            started_at=DAY,
            ttft_ms=300.0,
            output_tokens_per_s=50.0,
            input_tokens=1000,
            output_tokens=200,
            cache_read_tokens=800,
            cache_write_tokens=0,
            rate_limits={"retry-after": "7"},
            stream=True,
        ),
        Record(
            id="a2",
            state="error",
            provider="anthropic",
            api="messages",
            model="claude-sonnet-4-5",
            started_at=DAY + 3600,
            status=429,
            error_type="rate_limit_error",
        ),
        Record(
            id="a3",
            state="done",
            provider="anthropic",
            api="messages",
            model="claude-sonnet-4-5",
            started_at=DAY + 7200,
            ttft_ms=500.0,
            output_tokens_per_s=70.0,
            input_tokens=2000,
            output_tokens=100,
            cache_read_tokens=0,
            cache_write_tokens=1500,
        ),
        Record(
            id="o1",
            state="done",
            provider="openai",
            api="chat_completions",
            model="gpt-4o-mini",
            started_at=DAY + 86400,
            ttft_ms=200.0,
            output_tokens_per_s=90.0,
            input_tokens=50,
            output_tokens=20,
            cache_read_tokens=0,
            tokens_estimated=True,
        ),
        Record(
            id="o2",
            state="aborted",
            provider="openai",
            api="responses",
            model="my-finetune",
            started_at=DAY + 86400 + 60,
            ttft_ms=100.0,
            input_tokens=10,
            output_tokens=5,
        ),
    ]


def priced(records: list[Record]) -> list[Record]:
    for record in records:
        record.cost_usd = cost_usd(record)
    return records


# -- cost ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider", "usage"),
    [
        ("claude-sonnet-4-5", "anthropic", dict(input_tokens=1000, output_tokens=200, cache_read_tokens=800)),
        (
            "claude-haiku-4-5-20251001",
            "anthropic",
            dict(input_tokens=10423, output_tokens=329, cache_write_tokens=10415),
        ),
        ("gpt-4o-mini", "openai", dict(input_tokens=50, output_tokens=20)),
        ("gpt-5-2025-08-07", "openai", dict(input_tokens=19, output_tokens=75, cache_read_tokens=0)),
    ],
)
def test_costs_of_known_models_match_genai_prices(model: str, provider: str, usage: dict) -> None:
    record = Record(id="x", provider=provider, model=model, **usage)
    expected = calc_price(Usage(**usage), model_ref=model, provider_id=provider).total_price
    assert cost_usd(record) == pytest.approx(float(expected))
    assert cost_usd(record) > 0


def test_cache_reads_are_cheaper_than_fresh_input() -> None:
    fresh = Record(
        id="x", provider="anthropic", model="claude-sonnet-4-5", input_tokens=10_000, output_tokens=0
    )
    cached = Record(
        id="y",
        provider="anthropic",
        model="claude-sonnet-4-5",
        input_tokens=10_000,
        output_tokens=0,
        cache_read_tokens=9_000,
    )
    assert cost_usd(cached) < cost_usd(fresh) / 2


def test_unknown_model_costs_null_never_zero_and_no_tokens_cost_nothing() -> None:
    assert (
        cost_usd(Record(id="x", provider="openai", model="my-finetune", input_tokens=5, output_tokens=5))
        is None
    )
    # A 429 before any token, count_tokens, a model list: nothing was billed.
    assert cost_usd(Record(id="x", provider="anthropic", model="claude-sonnet-4-5", status=429)) == 0.0
    assert cost_usd(Record(id="x", provider="anthropic", api="other")) == 0.0


# -- the database ------------------------------------------------------------------------------


def test_records_round_trip_through_sqlite(tmp_path: Path) -> None:
    records = priced(known_records())
    writer = HistoryWriter(str(tmp_path / "h.db")).start()
    for record in records:
        writer.add(record)
    writer.close()
    db = connect(str(tmp_path / "h.db"), create=False)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert read(db) == [r.to_dict() for r in records]
    assert [r["id"] for r in read(db, limit=2)] == ["o1", "o2"]  # the most recent, oldest first
    assert [r["id"] for r in read(db, since=DAY + 86400)] == ["o1", "o2"]


def test_a_record_is_on_disk_within_a_second_without_closing(tmp_path: Path) -> None:
    writer = HistoryWriter(str(tmp_path / "h.db")).start()
    writer.add(known_records()[0])
    time.sleep(history.FLUSH_S + 0.5)
    # Another process reading the file (a crash would lose nothing written by now).
    other = sqlite3.connect(tmp_path / "h.db")
    assert other.execute("SELECT id FROM requests").fetchall() == [("a1",)]
    writer.close()


def test_batches_flush_on_time_under_steady_traffic(tmp_path: Path) -> None:
    writer = HistoryWriter(str(tmp_path / "h.db")).start()
    for i in range(30):  # one record every 0.1 s: never a quiet second
        writer.add(Record(id=f"r{i}", started_at=DAY + i))
        time.sleep(0.1)
        if i == 25:
            written_while_busy = sqlite3.connect(tmp_path / "h.db").execute("SELECT count(*) FROM requests")
            assert written_while_busy.fetchone()[0] >= 10
    writer.close()


def test_schema_migrates_forward_and_refuses_a_newer_one(tmp_path: Path, monkeypatch) -> None:
    path = str(tmp_path / "h.db")
    writer = HistoryWriter(path).start()
    writer.add(known_records()[0])
    writer.close()
    # A later LiveToken adds a column: the old database is upgraded and keeps its rows.
    monkeypatch.setattr(
        history,
        "MIGRATIONS",
        [*history.MIGRATIONS, lambda db: db.execute("ALTER TABLE requests ADD COLUMN note TEXT")],
    )
    monkeypatch.setattr(history, "SCHEMA_VERSION", len(history.MIGRATIONS))
    db = connect(path, create=False)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert db.execute("SELECT id, note FROM requests").fetchall() == [("a1", None)]
    db.close()
    monkeypatch.setattr(history, "SCHEMA_VERSION", 1)
    with pytest.raises(HistoryError, match="newer LiveToken"):
        connect(path, create=False)


def test_unusable_databases_say_what_to_change(tmp_path: Path) -> None:
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("this is not a database at all, " * 100)
    with pytest.raises(HistoryError, match=r"not SQLite.*LIVETOKEN_DB="):
        HistoryWriter(str(not_sqlite))
    # A read-only file system (root writes through file modes, so use one that is read-only for all).
    with pytest.raises(HistoryError, match="LIVETOKEN_DB"):
        HistoryWriter("/proc/livetoken-history/h.db")


def test_another_programs_database_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE notes (body TEXT)")
    other.commit()
    other.close()
    with pytest.raises(HistoryError, match="another program's SQLite database"):
        HistoryWriter(str(path))
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == [("notes",)]


def test_a_locked_database_says_so(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    HistoryWriter(str(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryError, match="locked"):
            HistoryWriter(str(path))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- reports -----------------------------------------------------------------------------------


def test_report_by_model_equals_a_hand_computation() -> None:
    records = priced(known_records())
    rows = {r["group"]: r for r in summarise([r.to_dict() for r in records], "model")}
    sonnet = rows["claude-sonnet-4-5"]
    assert (sonnet["requests"], sonnet["errors"]) == (3, 1)
    assert (
        sonnet["input_tokens"],
        sonnet["output_tokens"],
        sonnet["cache_read_tokens"],
        sonnet["cache_write_tokens"],
    ) == (3000, 300, 800, 1500)
    assert sonnet["ttft_p50_ms"] == 400.0 and sonnet["ttft_p95_ms"] == pytest.approx(490.0)
    assert sonnet["output_tokens_per_s_median"] == 60.0
    # The 429 used no tokens and costs nothing; the other two are priced.
    assert records[1].cost_usd == 0.0
    assert sonnet["cost_usd"] == pytest.approx(records[0].cost_usd + records[2].cost_usd)
    assert rows["gpt-4o-mini"]["cost_usd"] == pytest.approx(records[3].cost_usd)
    # A request with tokens but no known price makes its group's cost unknown, not smaller.
    assert rows["my-finetune"]["cost_usd"] is None and rows["my-finetune"]["errors"] == 1
    mixed = summarise([records[0].to_dict(), records[4].to_dict()], "provider")
    assert [r["cost_usd"] for r in mixed] == [pytest.approx(records[0].cost_usd), None]
    assert all(list(r) == list(REPORT_KEYS) for r in rows.values())


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        ("provider", {"anthropic": 3, "openai": 2}),
        ("day", {"2026-12-01": 3, "2026-12-02": 2}),
        (
            "hour",
            {"2026-12-01 09:00": 1, "2026-12-01 10:00": 1, "2026-12-01 11:00": 1, "2026-12-02 09:00": 2},
        ),
    ],
)
def test_report_groupings(by: str, groups: dict[str, int]) -> None:
    rows = summarise([r.to_dict() for r in priced(known_records())], by)
    assert {r["group"]: r["requests"] for r in rows} == groups
    assert sum(r["input_tokens"] for r in rows) == 3060


def write_db(path: Path, records: list[Record]) -> None:
    writer = HistoryWriter(str(path)).start()
    for record in records:
        writer.add(record)
    writer.close()


def test_report_and_export_commands(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    records = priced(known_records())
    write_db(db, records)
    out = io.StringIO()
    report(str(db), None, "provider", "json", out)
    rows = json.loads(out.getvalue())
    assert [r["group"] for r in rows] == ["anthropic", "openai"]
    table = io.StringIO()
    report(str(db), None, "model", "table", table)
    lines = table.getvalue().splitlines()
    assert lines[0].split()[:3] == ["model", "requests", "errors"]
    assert any(line.startswith("claude-sonnet-4-5") and " 3 " in line for line in lines)
    csv_out = io.StringIO()
    report(str(db), None, "day", "csv", csv_out)
    assert csv_out.getvalue().splitlines()[0] == ",".join(REPORT_KEYS)
    jsonl = io.StringIO()
    export(str(db), None, "jsonl", jsonl)
    exported = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert exported == [r.to_dict() for r in records]
    csv_export = io.StringIO()
    export(str(db), None, "csv", csv_export)
    assert csv_export.getvalue().splitlines()[0] == ",".join(RECORD_FIELDS)
    assert len(csv_export.getvalue().splitlines()) == 6


def test_report_over_nothing_is_a_note_not_a_traceback(tmp_path: Path) -> None:
    for db in (tmp_path / "missing.db", tmp_path / "empty.db"):
        if db.name == "empty.db":
            HistoryWriter(str(db)).close()
        result = subprocess.run(
            [sys.executable, "-m", "livetoken.cli", "report", "--db", str(db), "--since", "24h"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0 and result.stdout == ""
        assert "livetoken report:" in result.stderr and "Traceback" not in result.stderr


def test_since_accepts_spans_and_dates() -> None:
    now = 1_800_000_000.0
    assert parse_since("24h", now) == now - 86400
    assert parse_since("7d", now) == now - 7 * 86400
    assert parse_since("2026-12-01", now) == dt.datetime(2026, 12, 1).timestamp()
    with pytest.raises(ValueError, match="--since takes"):
        parse_since("yesterday", now)


# -- across a restart ----------------------------------------------------------------------------


def test_history_survives_a_proxy_restart(short_tmp: Path) -> None:
    import httpx

    upstream = FakeUpstreamProcess()
    db = short_tmp / "history.db"
    env = {"OPENAI_BASE_URL": f"{upstream.url}/v1", "LIVETOKEN_DB": str(db)}
    try:
        first = Mitmdump(upstream.url, short_tmp / "feed.sock", short_tmp / "one.log", env=env).wait_ready()
        ids = []
        for path, model in (("/v1/messages", "claude-sonnet-4-5"), ("/v1/chat/completions", "gpt-4o-mini")):
            response = httpx.post(
                first.url + path,
                json={"model": model, "stream": True, "stream_options": {"include_usage": True}},
                headers={"x-fake": "tokens=12"},
            )
            ids.append(response.headers["request-id"])
        FeedReader(first.socket_path).final(ids[-1])
        first.stop()

        second = Mitmdump(upstream.url, short_tmp / "feed.sock", short_tmp / "two.log", env=env).wait_ready()
        try:
            reader = FeedReader(second.socket_path)
            old = [reader.final(i, timeout=5) for i in ids]  # in the backlog before any new request
            assert [(r["model"], r["output_tokens"], r["state"]) for r in old] == [
                ("claude-sonnet-4-5", 12, "done"),
                ("gpt-4o-mini", 12, "done"),
            ]
            assert old[0]["cost_usd"] > 0 and old[1]["cost_usd"] > 0
        finally:
            second.stop()
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "livetoken"),
                "report",
                "--db",
                str(db),
                "--since",
                "1h",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        rows = {r["group"]: r for r in json.loads(result.stdout)}
        assert set(rows) == {"claude-sonnet-4-5", "gpt-4o-mini"}
        assert rows["gpt-4o-mini"]["output_tokens"] == 12 and rows["gpt-4o-mini"]["cost_usd"] > 0
    finally:
        upstream.stop()
