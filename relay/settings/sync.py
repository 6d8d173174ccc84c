"""The email and profile sync toward Homeria: where, how fast, how it retries and waits.

`sync_worker/policy.py` turns the retry and breaker knobs into the sync's `Policy`.
"""

from __future__ import annotations

from pydantic import field_validator

from relay.settings.group import BLANK_DEFAULT, Group, seconds, setting
from relay.settings.telemetry import existing_path
from relay.settings.urls import require_secure_url


class SyncSettings(Group):
    homeria_base_url: str = setting("http://127.0.0.1:8091", "HOMERIA_BASE_URL",
                                    "Homeria's API; https except on loopback")
    homeria_api_token: str = setting("dev-homeria-token", "HOMERIA_API_TOKEN",
                                     "bearer token toward Homeria", min_length=1)
    homeria_signing_secret: str = setting(
        "dev-homeria-signing-secret", "HOMERIA_SIGNING_SECRET",
        "HMAC key of the request signature", min_length=1)
    homeria_max_rps: float = setting(50, "HOMERIA_MAX_RPS", "global rate limit toward"
                                     " Homeria, all workers together; 0 turns it off", ge=0)

    homeria_retry_base_seconds: float = seconds(
        2, "HOMERIA_RETRY_BASE_SECONDS", "first backoff ceiling (full jitter)",
        ge=0.01, blank=BLANK_DEFAULT)
    homeria_retry_max_seconds: float = seconds(
        600, "HOMERIA_RETRY_MAX_SECONDS", "backoff ceiling cap", ge=0.01,
        blank=BLANK_DEFAULT)
    homeria_retry_give_up_seconds: float = seconds(
        86400, "HOMERIA_RETRY_GIVE_UP_SECONDS",
        "a change failing this long is dead-lettered max_age", ge=1, blank=BLANK_DEFAULT)
    homeria_breaker_threshold: int = setting(
        5, "HOMERIA_BREAKER_THRESHOLD", "consecutive transient failures that open the"
        " breaker", ge=1, blank=BLANK_DEFAULT)
    homeria_breaker_cooldown_seconds: float = seconds(
        30, "HOMERIA_BREAKER_COOLDOWN_SECONDS", "open -> half-open (one probe) after this",
        ge=0.1, blank=BLANK_DEFAULT)

    # Were constants in code (sync_worker/client.py, sync_worker/policy.py).
    homeria_connect_timeout_seconds: float = seconds(
        3.05, "HOMERIA_CONNECT_TIMEOUT_SECONDS", "connect timeout of a Homeria request",
        le=60, blank=BLANK_DEFAULT)
    homeria_read_timeout_seconds: float = seconds(
        10, "HOMERIA_READ_TIMEOUT_SECONDS", "read timeout of a Homeria request", le=300,
        blank=BLANK_DEFAULT)
    # Declared after the timeouts: its check reads them.
    homeria_claim_lease_seconds: float = seconds(
        20, "HOMERIA_CLAIM_LEASE_SECONDS", "how long a worker holds a claimed change"
        " before another may send it again; longer than connect + read timeout",
        blank=BLANK_DEFAULT)
    homeria_max_token_wait_seconds: float = seconds(
        0.5, "HOMERIA_MAX_TOKEN_WAIT_SECONDS", "a task that cannot get a rate-limit token"
        " within this waits by a countdown instead", ge=0, le=60, blank=BLANK_DEFAULT)
    homeria_reconcile_seconds: float = seconds(
        900, "HOMERIA_RECONCILE_SECONDS", "how often beat measures consistency with"
        " Homeria", ge=10, blank=BLANK_DEFAULT)
    homeria_reconcile_sample: int = setting(
        200, "HOMERIA_RECONCILE_SAMPLE", "recent syncs read back from Homeria per"
        " reconcile run", ge=1, le=100_000, blank=BLANK_DEFAULT)

    # Read by requests (the Homeria client resolves them once): a path that is not there
    # would fail every request much later.
    requests_ca_bundle: str | None = setting(None, "REQUESTS_CA_BUNDLE",
                                             "CA bundle for https toward Homeria")
    curl_ca_bundle: str | None = setting(None, "CURL_CA_BUNDLE",
                                         "CA bundle, when REQUESTS_CA_BUNDLE is unset")

    @field_validator("homeria_base_url")
    @classmethod
    def _homeria_url(cls, v: str) -> str:
        return require_secure_url(v, "HOMERIA_BASE_URL")

    @field_validator("homeria_claim_lease_seconds")
    @classmethod
    def _lease_outlasts_a_request(cls, v: float, info) -> float:
        # A lease that ends while the request is still in flight lets a second worker
        # send the same change at the same time.
        connect = info.data.get("homeria_connect_timeout_seconds")
        read = info.data.get("homeria_read_timeout_seconds")
        if connect is not None and read is not None and v <= connect + read:
            raise ValueError(f"must be longer than HOMERIA_CONNECT_TIMEOUT_SECONDS +"
                             f" HOMERIA_READ_TIMEOUT_SECONDS ({connect + read:g} s)")
        return v

    @field_validator("requests_ca_bundle", "curl_ca_bundle", mode="before")
    @classmethod
    def _existing_file(cls, v):
        return existing_path(v)

    @property
    def homeria_timeout(self) -> tuple[float, float]:
        """(connect, read) for requests."""
        return (self.homeria_connect_timeout_seconds, self.homeria_read_timeout_seconds)
