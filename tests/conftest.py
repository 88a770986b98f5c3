"""Shared test helpers: where the shared fixtures live, and a deterministic clock."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures" / "public"
TIKTOKEN_CACHE = SHARED / "tiktoken-cache"

requires_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(),
    reason=f"recorded API traffic not found at {FIXTURES} (it lives beside the project, in ../shared); "
    "the hand-written streams in tests/streams.py cover the same behaviours",
)


def fixture_body(name: str) -> bytes:
    """An .sse fixture's wire body: everything after its first ``: source:`` comment line."""
    raw = (FIXTURES / name).read_bytes()
    return raw.split(b"\n", 1)[1] if raw.startswith(b": source:") else raw


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary folder: Unix socket paths must stay under 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="lt-", dir="/tmp") as folder:
        os.chmod(folder, 0o700)
        yield Path(folder)
