"""Feed messages are not trusted: odd fields become blanks, never exceptions."""

from __future__ import annotations

import io
import math

from rich.console import Console

from metrics.record import RECORD_FIELDS, Record
from tui.records import to_record
from tui.screens.detail import detail_renderable
from tui.store import Entry
from tui.widgets.request_table import row_cells


def test_a_well_formed_message_round_trips() -> None:
    record = Record(
        id="r1", state="done", model="m", input_tokens=10, ttft_ms=1.5, rate_limits={"retry-after": "3"}
    )
    assert to_record(record.to_message()) == record


def test_wrong_types_fall_back_to_defaults_and_extra_fields_are_ignored() -> None:
    odd = {
        "type": "request",
        "id": "r1",
        "state": 7,
        "provider": None,
        "model": ["x"],
        "status": "200",
        "input_tokens": True,
        "output_tokens": 12.0,
        "ttft_ms": math.nan,
        "duration_ms": "fast",
        "chunks": None,
        "tokens_estimated": "yes",
        "rate_limits": {"x-ratelimit-remaining": 5, 3: "no"},
        "brand_new_field": {"a": 1},
    }
    record = to_record(odd)
    assert record is not None
    assert (record.state, record.provider, record.model, record.status) == ("pending", "unknown", None, None)
    assert (record.input_tokens, record.output_tokens, record.chunks) == (None, 12, 0)
    assert (record.ttft_ms, record.duration_ms, record.tokens_estimated) == (None, None, False)
    assert record.rate_limits == {"x-ratelimit-remaining": "5"}
    assert not hasattr(record, "brand_new_field")


def test_missing_fields_render_as_blanks() -> None:
    record = to_record({"type": "request", "id": "r1"})
    assert record is not None
    cells = [cell.text for cell in row_cells(Entry(record, 0))]
    assert cells[0] == "" and cells[2] == "" and cells[4:] == [""] * 7
    assert cells[3] == "… pending"


def test_ids_are_required_and_numbers_are_accepted() -> None:
    assert to_record({"type": "request", "state": "done"}) is None
    assert to_record({"type": "request", "id": ""}) is None
    assert to_record({"type": "request", "id": {"a": 1}}) is None
    assert to_record({"type": "request", "id": 17}).id == "17"  # type: ignore[union-attr]


def test_control_characters_cannot_break_a_cell() -> None:
    record = to_record(
        {"type": "request", "id": "r1", "model": "evil\x1b[2J\nmodel", "error_message": b"bytes \xff"}
    )
    assert record is not None
    assert record.model == "evil [2J model"
    assert record.error_message == "bytes \ufffd"


def test_every_record_field_is_checked() -> None:
    # A field added to Record later gets a checker automatically: nothing passes through raw.
    message = {name: object() for name in RECORD_FIELDS} | {"id": "r1"}
    record = to_record(message)
    assert record is not None
    assert record == Record(id="r1")


def test_the_detail_view_shows_every_record_field() -> None:
    record = Record(id="r1", state="done", rate_limits={"retry-after": "3"})
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(detail_renderable(Entry(record, 0)))
    shown = capture.get()
    missing = [name for name in RECORD_FIELDS if name != "rate_limits" and name not in shown]
    assert missing == []
    assert "retry-after" in shown
