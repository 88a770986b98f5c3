"""Which provider and API a request belongs to, and where its upstream is."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

ANTHROPIC = "anthropic"
OPENAI = "openai"
UNKNOWN = "unknown"


def classify(path: str, headers: Mapping[str, str] | None = None, host: str = "") -> tuple[str, str]:
    """(provider, api) for a request path; headers and host only break ties for other paths."""
    p = path.split("?", 1)[0].rstrip("/")
    if p.endswith("/chat/completions"):
        return OPENAI, "chat_completions"
    if p.endswith("/responses"):
        return OPENAI, "responses"
    if p.endswith("/messages"):
        return ANTHROPIC, "messages"
    return guess_provider(p, headers or {}, host), "other"


def guess_provider(path: str, headers: Mapping[str, str], host: str = "") -> str:
    host = host.lower()
    if host.endswith("anthropic.com"):
        return ANTHROPIC
    if host.endswith("openai.com"):
        return OPENAI
    if "anthropic-version" in headers or "x-api-key" in headers or path.startswith("/v1/messages"):
        return ANTHROPIC
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and not auth[7:].startswith("sk-ant-"):
        return OPENAI
    return UNKNOWN


@dataclass(frozen=True, slots=True)
class Upstream:
    scheme: str
    host: str
    port: int
    prefix: str  # path before /v1..., without a trailing slash

    @classmethod
    def parse(cls, url: str, what: str = "upstream") -> Upstream:
        """Parse a base URL; a trailing ``/v1`` is dropped so paths are never doubled."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{what} must be an http(s) URL such as https://api.openai.com, not {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise ValueError(f"{what} has an invalid port: {url!r}") from exc
        prefix = parts.path.rstrip("/")
        if prefix.endswith("/v1"):
            prefix = prefix[:-3]
        return cls(parts.scheme, parts.hostname, port, prefix)

    def path_for(self, path: str) -> str:
        return self.prefix + path if self.prefix else path

    def is_address(self, host: str, port: int) -> bool:
        """Does this upstream point at host:port (the proxy's own listen address)?"""
        return port == self.port and _same_host(self.host, host)


_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_local(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES or host in ("", "*"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _same_host(a: str, b: str) -> bool:
    if a.lower() == b.lower():
        return True
    # A proxy listening on all interfaces or loopback is reached through any local name.
    return _is_local(a) and _is_local(b)
