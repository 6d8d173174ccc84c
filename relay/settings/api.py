"""The HTTP API (`relay serve`, relay/api), the operations console and Flower."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import field_validator

from relay.settings.group import BLANK_UNSET, Group, setting


class ApiSettings(Group):
    api_host: str = setting("127.0.0.1", "API_HOST", "where relay serve listens",
                            min_length=1)
    api_port: int = setting(8080, "API_PORT", "relay serve's port", ge=1, le=65535)
    api_workers: int = setting(2, "API_WORKERS", "relay serve worker processes", ge=1,
                               le=64)
    api_max_body_bytes: int = setting(32 * 1024 * 1024, "API_MAX_BODY_BYTES",
                                      "largest request body; larger -> 413", ge=1024)
    api_rate_limit_rps: float = setting(
        300, "API_RATE_LIMIT_RPS", "requests a second per API key, all API processes"
        " together; 0 turns it off", ge=0)
    # uvicorn reads it itself; here so that it is documented and checked with the rest.
    forwarded_allow_ips: str = setting(
        "127.0.0.1", "FORWARDED_ALLOW_IPS", "proxies whose X-Forwarded-* headers are"
        " trusted (uvicorn's own)")
    # The operations console (relay/console): the nav's link to Flower; unset: no link.
    flower_url: str | None = setting(None, "FLOWER_URL", "Flower as a browser reaches it",
                                     blank=BLANK_UNSET)
    flower_basic_auth: str | None = setting(None, "FLOWER_BASIC_AUTH",
                                            "user:password for Flower", blank=BLANK_UNSET)

    @field_validator("flower_url")
    @classmethod
    def _flower_url(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in {"http", "https"}:
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("flower_basic_auth")
    @classmethod
    def _basic_auth(cls, v: str | None) -> str | None:
        if v is not None and (":" not in v or v.startswith(":") or v.endswith(":")):
            raise ValueError("must be user:password")
        return v
