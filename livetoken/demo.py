"""``livetoken demo``: a local fake API and a stream of realistic requests through the proxy.

No API key and no network: the fake upstream answers in the providers' real wire shapes and
the traffic generator plays a mix a developer would see on a busy day — Claude and GPT models,
all three APIs, short and long answers at different speeds, thinking and tool use, cached
prompts, a few 429s and 529s, a mid-stream error and a client that hangs up.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import threading
from dataclasses import dataclass

from livetoken.fake_upstream import FakeUpstream, serve

PATHS = {"messages": "/v1/messages", "chat_completions": "/v1/chat/completions", "responses": "/v1/responses"}


@dataclass(frozen=True)
class Scenario:
    weight: int
    api: str
    models: tuple[str, ...]
    fake: str  # x-fake options; {tokens}, {interval} and {pause} are filled in at random
    stream: bool = True
    include_usage: bool = True
    hang_up: bool = False


SCENARIOS = (
    Scenario(
        14,
        "messages",
        ("claude-sonnet-4-5", "claude-opus-4-1"),
        "tokens={tokens};interval_ms={interval};pause_ms={pause};cache_read=18000;ratelimit=unified",
    ),
    Scenario(
        8,
        "messages",
        ("claude-sonnet-4-5",),
        "thinking=40;tool=read_file;tokens={tokens};interval_ms={interval};pause_ms={pause};cache_write=9000",
    ),
    Scenario(6, "messages", ("claude-haiku-4-5",), "tokens={tokens};interval_ms={interval};encoding=gzip"),
    Scenario(
        12,
        "chat_completions",
        ("gpt-4o", "gpt-4o-mini", "gpt-4.1"),
        "tokens={tokens};interval_ms={interval};pause_ms={pause};cache_read=1024",
    ),
    Scenario(
        4, "chat_completions", ("gpt-4o-mini",), "tokens={tokens};interval_ms={interval}", include_usage=False
    ),
    Scenario(5, "chat_completions", ("gpt-4.1",), "tool=get_weather;tokens=12;interval_ms={interval}"),
    Scenario(
        10,
        "responses",
        ("gpt-5", "gpt-5-mini"),
        "tokens={tokens};interval_ms={interval};pause_ms={pause};reasoning=256",
    ),
    Scenario(4, "messages", ("claude-haiku-4-5",), "tokens=30", stream=False),
    Scenario(3, "chat_completions", ("gpt-4o-mini",), "tokens=25", stream=False),
    Scenario(2, "messages", ("claude-opus-4-1",), "status=429"),
    Scenario(2, "messages", ("claude-sonnet-4-5",), "status=529"),
    Scenario(2, "chat_completions", ("gpt-4o",), "status=429"),
    Scenario(2, "messages", ("claude-sonnet-4-5",), "fault=error_event;tokens=60;interval_ms=15"),
    Scenario(2, "responses", ("gpt-5",), "tokens=400;interval_ms=12", hang_up=True),
)


def body(scenario: Scenario, model: str) -> bytes:
    prompt = [{"role": "user", "content": "Summarise the design of a streaming metrics proxy. " * 8}]
    data: dict = {"model": model, "stream": scenario.stream}
    if scenario.api == "messages":
        data.update(max_tokens=2048, messages=prompt)
    elif scenario.api == "chat_completions":
        data["messages"] = prompt
        if scenario.stream and scenario.include_usage:
            data["stream_options"] = {"include_usage": True}
    else:
        data["input"] = prompt[0]["content"]
    return json.dumps(data).encode()


class Traffic:
    """Worker threads sending the demo mix through the proxy until stopped."""

    def __init__(self, proxy_port: int, workers: int = 4, seed: int | None = None) -> None:
        self.port = proxy_port
        self.stop_event = threading.Event()
        self.rng = random.Random(seed)
        self.sent = 0
        self.threads = [
            threading.Thread(target=self._work, name=f"demo-traffic-{i}", daemon=True) for i in range(workers)
        ]

    def start(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()

    def _work(self) -> None:
        while not self.stop_event.is_set():
            scenario = self.rng.choices(SCENARIOS, weights=[s.weight for s in SCENARIOS])[0]
            # The proxy may go away (the demo is ending) or drop one: the next request goes on.
            with contextlib.suppress(OSError, http.client.HTTPException):
                self.send(scenario)
            self.sent += 1
            self.stop_event.wait(self.rng.uniform(0.2, 1.5))

    def send(self, scenario: Scenario) -> None:
        rng = self.rng
        fake = scenario.fake.format(
            tokens=rng.choice([15, 40, 80, 150, 300, 600]),
            interval=rng.choice([4, 8, 15, 25, 40]),
            pause=rng.choice([150, 300, 600, 1200]),
        )
        model = rng.choice(scenario.models)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {
            "content-type": "application/json",
            "x-fake": fake,
            "anthropic-version": "2023-06-01",
            "accept-encoding": "gzip, br, zstd",
        }
        try:
            connection.request("POST", PATHS[scenario.api], body=body(scenario, model), headers=headers)
            response = connection.getresponse()
            received = 0
            while piece := response.read1(65536):
                received += len(piece)
                if scenario.hang_up and received > 3000:
                    break  # the user pressed Esc: close the connection mid-stream
                if self.stop_event.is_set():
                    break
        finally:
            connection.close()


class Demo:
    """The fake upstream plus the traffic; the proxy in between is the caller's."""

    def __init__(self) -> None:
        self.upstream: FakeUpstream = serve()
        self.traffic: Traffic | None = None

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream.server_port}"

    def start_traffic(self, proxy_port: int) -> None:
        self.traffic = Traffic(proxy_port).start()

    def stop(self) -> None:
        if self.traffic is not None:
            self.traffic.stop()
        self.upstream.shutdown()
        self.upstream.server_close()
