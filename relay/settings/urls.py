"""The URL rules the settings enforce, shared with the adapters that re-check them."""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
BROKER_SCHEMES = {"redis", "rediss", "unix", "sentinel", "amqp", "amqps", "pyamqp"}


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_secure_url(value: str, name: str) -> str:
    """https everywhere; plain http only toward loopback (the stand-ins)."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(f"{name} must use https (plain http only for loopback)")
    return value.rstrip("/")


class SmtpTarget:
    """SMTP_URL parsed: smtp://user:pass@host:587?starttls=1 or smtps://host:465."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:587?starttls=1")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.url = url
        self.host: str = parts.hostname
        self.ssl = parts.scheme == "smtps"
        self.port: int = parts.port or (465 if self.ssl else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", "0").lower() in {"1", "true", "yes"}
        self.timeout = float(query.get("timeout", "10"))

    def __repr__(self) -> str:  # never print the password
        return f"SmtpTarget({self.host}:{self.port}, ssl={self.ssl}, starttls={self.starttls})"


def broker_kind(url: str) -> Literal["redis", "sentinel", "amqp"]:
    scheme = urlsplit(url).scheme
    if scheme == "sentinel":
        return "sentinel"
    return "amqp" if scheme in {"amqp", "amqps", "pyamqp"} else "redis"


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str | None, int]:
    """`sentinel://[:pw@]h1:26379[/db];sentinel://h2:26379` (kombu's form) → the Sentinel
    addresses, the Redis password and the database (default 0). kombu reads the password
    and database from the first part only, so relay does too and refuses them elsewhere:
    the outbox's own publish must write to the database the workers read."""
    hosts: list[tuple[str, int]] = []
    password, db = None, 0
    for i, part in enumerate(p.strip() for p in url.split(";")):
        parts = urlsplit(part)
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ValueError(f"every part must be sentinel://host:port, got {part!r}")
        try:
            hosts.append((parts.hostname, parts.port or 26379))
        except ValueError:
            raise ValueError(f"bad port in {part!r}") from None
        path = parts.path.strip("/")
        if i and (path or parts.password):
            raise ValueError("put the password and database on the first sentinel:// part"
                             " only (that is where Celery's transport reads them)")
        if path and not path.isdigit():
            raise ValueError(f"database must be a number, got {parts.path!r}")
        if not i:
            password = unquote(parts.password) if parts.password else None
            db = int(path) if path else 0
    return hosts, password, db
