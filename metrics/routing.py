"""Which provider and API a request belongs to, and where its upstream is."""

from __future__ import annotations

import ipaddress
import socket
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

    @property
    def url(self) -> str:
        default = {"http": 80, "https": 443}[self.scheme]
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{self.prefix}"

    def path_for(self, path: str) -> str:
        return self.prefix + path if self.prefix else path

    def is_address(self, host: str, port: int, resolve: bool = False) -> bool:
        """Does this upstream point at host:port (the proxy's own listen address)?

        With ``resolve``, names are looked up, so a hostname or IP of this machine counts too;
        only worth the DNS query when the ports match.
        """
        if port != self.port:
            return False
        if _same_host(self.host, host):
            return True
        if not resolve:
            return False
        targets = resolve_host(self.host)
        if host in _ALL_INTERFACES:
            return any(is_own_address(ip) for ip in targets)
        return bool(targets & resolve_host(host))


_ALL_INTERFACES = frozenset({"", "*", "0.0.0.0", "::", "[::]"})
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_local(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES or host in ("", "*"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def is_loopback(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_host(host: str) -> set[str]:
    """The IP addresses a name stands for (empty when it does not resolve)."""
    try:
        return {info[4][0] for info in socket.getaddrinfo(host.strip("[]"), None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return set()


def is_own_address(ip: str) -> bool:
    """Is ``ip`` one of this machine's addresses? Only a local address can be bound."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((ip, 0))
        except OSError:
            return False
    return True


def _same_host(a: str, b: str) -> bool:
    if a.lower() == b.lower():
        return True
    # A proxy listening on all interfaces or loopback is reached through any local name.
    return _is_local(a) and _is_local(b)
