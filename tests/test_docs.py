"""The docs' examples run as written."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from metrics.feed import FeedPublisher
from metrics.record import DONE, Record
from tests.conftest import ROOT


def python_blocks(doc: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)


async def test_feed_md_subscriber_example_prints_final_records(short_tmp: Path) -> None:
    (example,) = python_blocks(ROOT / "docs" / "feed.md")
    path = short_tmp / "feed.sock"
    feed = FeedPublisher(str(path))
    await feed.start()
    feed.publish(Record(id="a", state=DONE, model="claude-x", ttft_ms=312.5, output_tokens_per_s=48.0))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        example,
        env={"LIVETOKEN_SOCKET": str(path), "PATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    await asyncio.sleep(0.5)
    feed.publish(Record(id="b", state=DONE, model="gpt-5", ttft_ms=100.0, output_tokens_per_s=90.5))
    await asyncio.sleep(0.3)
    await feed.close()  # ends the example's loop
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["claude-x 312.5 48.0", "gpt-5 100.0 90.5"]
