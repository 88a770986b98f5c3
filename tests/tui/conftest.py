"""Every TUI test sees the same wall clock: UTC, so the time column does not depend on the host."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import pytest_textual_snapshot

# pytest-textual-snapshot 1.0 names its file type the syrupy 4 way (``_file_extension``); syrupy 5+
# reads ``file_extension``, and would store the snapshots as .raw files nobody can open.
pytest_textual_snapshot.SVGImageExtension.file_extension = "svg"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
