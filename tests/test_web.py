"""The web panel in a real headless Chromium, fed by a real proxy (issue 7)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from livetoken.cli import start_web
from livetoken.web.server import WebServer
from metrics.feed import FeedPublisher
from metrics.record import Record
from tests.conftest import ROOT
from tests.proxy import FakeUpstreamProcess, Mitmdump, free_port

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does)",
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The screenshot in the docs is refreshed on request (LIVETOKEN_UPDATE_DOCS=1), not by every run.
SCREENSHOT = ROOT / "docs" / "web.png" if os.environ.get("LIVETOKEN_UPDATE_DOCS") else None
TIMEOUT_MS = 20_000

ROW_JS = "() => document.querySelector('tr[data-id=\"{}\"]')"
ROWS_JS = "() => [...document.querySelectorAll('#requests tbody tr')].map(r => r.dataset.id)"


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A fresh Chromium profile and one page; console errors fail the test."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 760},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(TIMEOUT_MS)
        yield page
        context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def web(short_tmp: Path) -> Iterator[WebServer]:
    server = WebServer(str(short_tmp / "feed.sock"), "127.0.0.1", 0, quiet=True).start()
    yield server
    server.stop()


def send(proxy: Mitmdump, fake: str, model: str = "claude-sonnet-4-5") -> threading.Thread:
    """A streaming Messages request through the proxy, in the background (the test watches the page)."""

    def run() -> None:
        messages = [{"role": "user", "content": "hi"}]
        body = {"model": model, "max_tokens": 300, "stream": True, "messages": messages}
        with httpx.stream(
            "POST", f"{proxy.url}/v1/messages", json=body, headers={"x-fake": fake}, timeout=30
        ) as response:
            for _ in response.iter_bytes():
                pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def cell(page: Any, row_id: str, column: str) -> str:
    return page.evaluate(
        """([id, column]) => {
            const labels = [...document.querySelectorAll('#requests thead th')].map(th => th.textContent);
            const row = document.querySelector(`#requests tbody tr[data-id="${id}"]`);
            return row.children[labels.indexOf(column)].textContent;
        }""",
        [row_id, column],
    )


def canvas_inked(page: Any, selector: str) -> int:
    """How many pixels of the chart are not the background: proof something was drawn."""
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
            return inked;
        }""",
        selector,
    )


def number(text: str) -> float:
    text = text.lstrip("~")
    scale = {"k": 1e3, "M": 1e6}.get(text[-1:], 1)
    return float(text.rstrip("kM") or 0) * scale


@needs_chromium
def test_live_requests_through_a_real_proxy(browser_page: Any, web: WebServer, short_tmp: Path) -> None:
    page = browser_page
    socket_path = short_tmp / "feed.sock"
    page.goto(web.url)
    # No proxy yet: the page says it is waiting, and shows no rows.
    page.wait_for_function("() => document.body.dataset.link === 'waiting'")
    assert "waiting for the proxy" in page.text_content("#connection")
    assert page.evaluate(ROWS_JS) == []

    fake = FakeUpstreamProcess()
    proxy = Mitmdump(fake.url, socket_path, short_tmp / "mitm.log").wait_ready()
    try:
        page.wait_for_function("() => document.body.dataset.link === 'connected'")
        stream = send(proxy, "tokens=200;interval_ms=20")
        page.wait_for_function(
            "() => document.querySelector('#requests tbody tr[data-state=streaming]')"
        )
        (row_id,) = page.evaluate(ROWS_JS)
        # Mark the element: if the page re-created the row instead of updating it, the mark is gone.
        page.evaluate(ROW_JS.format(row_id) + ".dataset.mark = 'first'")
        first_out = number(cell(page, row_id, "out") or "0")
        page.wait_for_function(
            "([id, before]) => { const r = document.querySelector(`tr[data-id=\"${id}\"]`);"
            " const out = r.children[7].textContent.replace('~', ''); return r.dataset.state === 'streaming'"
            " && parseFloat(out) > before; }",
            arg=[row_id, first_out],
        )
        page.wait_for_function(ROW_JS.format(row_id) + ".dataset.state === 'done'")
        stream.join(10)
        assert page.evaluate(ROW_JS.format(row_id) + ".dataset.mark") == "first"
        assert "✓ done" in cell(page, row_id, "state")
        assert number(cell(page, row_id, "out")) == 200
        assert cell(page, row_id, "TTFT").endswith("ms") or cell(page, row_id, "TTFT").endswith("s")

        # An upstream error ends red, saying what went wrong.
        send(proxy, "status=429", model="claude-haiku-4-5").join(10)
        page.wait_for_function("() => document.querySelector('#requests tbody tr[data-state=error]')")
        error_state = page.locator("#requests tbody tr[data-state=error] td.state")
        assert "✗" in error_state.text_content()
        assert "s-red" in error_state.get_attribute("class")

        # A second model, so the charts and legend have more than one series.
        send(proxy, "tokens=60;interval_ms=5", model="claude-haiku-4-5").join(10)
        page.wait_for_function("() => document.querySelectorAll('tbody tr[data-state=done]').length === 2")
        summary = page.text_content("#summary")
        assert "requests3" in summary.replace(" ", "") and "errors1" in summary.replace(" ", "")
        page.wait_for_function("() => document.querySelectorAll('#legend li').length === 2")
        assert canvas_inked(page, "#ttft-chart") > 500
        assert canvas_inked(page, "#speed-chart") > 500
        shot = page.screenshot(path=str(SCREENSHOT) if SCREENSHOT else None, type="png")
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000  # a real picture of the panel
        before = page.evaluate(ROWS_JS)

        # The proxy restarts on the same socket: a fresh snapshot, never a duplicated row.
        proxy.stop()
        page.wait_for_function("() => document.body.dataset.link !== 'connected'")
        proxy = Mitmdump(fake.url, socket_path, short_tmp / "mitm2.log").wait_ready()
        page.wait_for_function("() => document.body.dataset.link === 'connected'")
        send(proxy, "tokens=10").join(10)
        page.wait_for_function(f"() => document.querySelectorAll('tbody tr').length === {len(before) + 1}")
        after = page.evaluate(ROWS_JS)
        assert len(after) == len(set(after)) == len(before) + 1
        assert set(before) <= set(after)
    finally:
        proxy.stop()
        fake.stop()


class FeedInThread:
    """A FeedPublisher on an event loop of its own, so a sync test can publish anything."""

    def __init__(self, path: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.publisher = FeedPublisher(path, 100)
        asyncio.run_coroutine_threadsafe(self.publisher.start(), self.loop).result(5)

    def publish(self, record: Any) -> None:
        self.loop.call_soon_threadsafe(self.publisher.publish, record)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.publisher.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@needs_chromium
def test_malformed_records_are_skipped(browser_page: Any, web: WebServer, short_tmp: Path) -> None:
    page = browser_page
    feed = FeedInThread(str(short_tmp / "feed.sock"))
    try:
        page.goto(web.url)
        page.wait_for_function("() => document.body.dataset.link === 'connected'")
        feed.publish(Record(id=None))  # type: ignore[arg-type]  # no id: nothing to upsert by
        # Wrong types everywhere: shown with blanks, never an exception in the page.
        feed.publish(Record(id="odd", started_at="yesterday", input_tokens="lots", model=42, state=7))  # type: ignore[arg-type]
        feed.publish(Record(id="good", state="done", model="gpt-4.1", started_at=1.7e9, output_tokens=12))
        page.wait_for_function("() => document.querySelector('tr[data-id=good]')")
        ids = page.evaluate(ROWS_JS)
        assert sorted(ids) == ["good", "odd"]
        assert cell(page, "good", "out") == "12"
        assert cell(page, "odd", "in") == ""
    finally:
        feed.close()


def test_web_port_in_use_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "livetoken.cli", "web", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"livetoken: web port {port} on 127.0.0.1 is in use: stop what runs there, "
            "or pick another with --port"
        )
        # Beside the table a busy port costs the panel, not the run.
        server, note = start_web(tempfile.gettempdir() + "/none.sock", port)
        assert server is None and f"web port {port}" in note


def test_launcher_web_panel_serves_and_stops(short_tmp: Path) -> None:
    port = free_port()
    server, note = start_web(str(short_tmp / "feed.sock"), port)
    assert server is not None and note == f"web http://127.0.0.1:{port}/"
    assert "LiveToken" in httpx.get(server.url, timeout=5).text
    assert httpx.get(f"{server.url}static/app.js", timeout=5).status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=2)


def test_chromium_is_where_ci_installs_it() -> None:
    # CI installs it (.ci/run); a developer without it sees the skip reason above instead.
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed on this machine")
    assert Path(CHROMIUM).exists()
