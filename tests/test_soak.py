"""The fault soak at CI size: nothing lost, nothing doubled, every fault ends as it should."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

EXPECTED = {
    "normal": {"done"},
    "client_hangup": {"aborted client_disconnected", "done"},  # short answers may finish first
    "upstream_stall": {"aborted client_disconnected"},
    "upstream_reset": {"error upstream_disconnected"},
    "truncated": {"error upstream_disconnected"},
    "malformed": {"error incomplete_stream"},
    "corrupt_gzip": {"error invalid_encoding"},
    "error_event": {"error overloaded_error", "error server_error"},
    "rate_limited": {"error rate_limit_error"},
}


def test_soak_loses_nothing_and_every_fault_ends_in_its_state() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/soak.py", "--requests", "300", "--concurrency", "20", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["final_records"], report["doubled"], report["missing"]) == (300, 0, 0)
    assert report["proxy_alive"] and report["proxy_errors"] == 0 and not report["reader_dropped"]
    assert report["in_flight_at_end"] == 0  # no request left half-tracked
    assert result.returncode == 0 and report["ok"]
    seen: dict[str, set[str]] = {}
    for outcome, count in report["outcomes"].items():
        kind, _, state = outcome.partition(" -> ")
        seen.setdefault(kind, set()).add(state)
        assert count > 0
    assert set(seen) == set(EXPECTED)
    for kind, states in seen.items():
        assert states <= EXPECTED[kind], (kind, states)
