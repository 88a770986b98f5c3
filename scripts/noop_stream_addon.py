"""The baseline for scripts/bench.py: streams SSE responses through unchanged, measures nothing."""

from mitmproxy import http


class NoopStream:
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response and flow.response.headers.get("content-type", "").startswith("text/event-stream"):
            flow.response.stream = lambda data: data or []


addons = [NoopStream()]
