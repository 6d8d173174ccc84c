"""On-call alerts: a log line always, a Slack-compatible webhook post when configured.

Why rate limiting lives in PostgreSQL: a storm (Homeria rejecting every change, a template
bug failing every notification) happens in many worker processes at once. Per alert key at
most one post goes out per window (ONCALL_ALERT_WINDOW_SECONDS, default 60 s); the ones
suppressed inside it are counted by label in `alert_windows`, under a row lock, and leave
as ONE summary post ("37 more email_change dead letters in the last 60 s:
customer_not_found x30, email_in_use x7") — sent by the first alert after the window, or by
`flush_due()` on the beat, whichever comes first.

Posting happens after the decision has committed (no lock held over HTTP), with
timeout=(3, 5), no redirects, https-only except loopback. A failed post is logged, never
raised: alerting must not break the work that triggered it. The webhook URL is a secret
and is never logged.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from relay.db import transaction
from relay.logs import get_logger, scrub, scrub_value
from relay.settings import get_settings, require_secure_url
from relay.settings.oncall import OncallSettings

log = get_logger(__name__)

SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_WINDOW_S = OncallSettings.model_fields["oncall_alert_window_seconds"].default
TIMES = "\u00d7"            # the multiplication sign, as in "customer_not_found x30"
TIMEOUT = (3, 5)
_TEXT_LIMIT = 2900          # Slack: section text max 3000 characters
_MAX_FIELDS = 10            # Slack: at most 10 fields per section
_ICONS = {"critical": ":rotating_light:", "error": ":red_circle:", "warning": ":warning:",
          "info": ":information_source:"}

_session: requests.Session | None = None
_session_pid: int | None = None
_session_lock = threading.Lock()


@dataclass(frozen=True)
class Summary:
    key: str
    title: str | None
    noun: str
    count: int
    by_label: dict[str, int]
    window_s: float

    @property
    def text(self) -> str:
        parts = sorted(self.by_label.items(), key=lambda kv: (-kv[1], kv[0]))
        counts = ", ".join(f"{label}{TIMES}{n}" for label, n in parts)
        return (f"{self.count} more {self.noun} in the last {self.window_s:g} s"
                + (f": {counts}" if counts else ""))


def window_seconds() -> float:
    """ONCALL_ALERT_WINDOW_SECONDS: a settings field, so a malformed value stops the
    process at start-up with one line naming it — never silently replaced by the
    default: an operator who set it meant something."""
    return get_settings().oncall_alert_window_seconds


def alert(key: str, title: str, text: str, severity: str = "error",
          fields: Mapping[str, Any] | None = None, *, label: str | None = None,
          noun: str = "alerts") -> str:
    """Raise an on-call alert. Returns 'logged' (no webhook configured), 'sent',
    'suppressed' (counted into the key's window summary) or 'failed' (post failed).

    `key` groups alerts for rate limiting (e.g. 'dead_letters.email_change'); `label`
    is what suppressed alerts are counted by in the summary (e.g. the reason); `noun`
    names them there ('email_change dead letters'). Never raises.
    """
    severity = severity if severity in SEVERITIES else "error"
    fields = dict(fields or {})
    _log_alert(key, title, text, severity, fields)
    try:
        url = get_settings().oncall_webhook_url
        if not url:
            return "logged"
        decision, summary = _decide(key, title, label or title, noun)
        if decision == "suppressed":
            return "suppressed"
        if summary is not None:
            _post(url, summary_payload(summary))
        return "sent" if _post(url, payload(key, title, text, severity, fields)) else "failed"
    except Exception as exc:  # alerting must never break the caller
        log.warning("alerts.failed", key=key, error=scrub(repr(exc)))
        return "failed"


def flush_due() -> int:
    """Send the summary of every window that has closed with suppressed alerts (beat)."""
    url = get_settings().oncall_webhook_url
    if not url:
        return 0
    with transaction() as tx:
        rows = tx.execute(
            """SELECT * FROM alert_windows
               WHERE suppressed > 0 AND window_ends_at <= clock_timestamp()
               ORDER BY window_ends_at FOR UPDATE SKIP LOCKED"""
        ).fetchall()
        for row in rows:
            tx.execute("UPDATE alert_windows SET suppressed = 0, suppressed_by = '{}'"
                       " WHERE key = %s", (row["key"],))
    sent = 0
    for row in rows:
        sent += _post(url, summary_payload(_summary(row)))
    return sent


def _log_alert(key: str, title: str, text: str, severity: str, fields: dict) -> None:
    emit = log.warning if severity in {"warning", "info"} else log.error
    emit("alert", key=key, severity=severity, title=title, text=text, **{
        f"field_{k}": v for k, v in fields.items()})


def _decide(key: str, title: str, label: str, noun: str) -> tuple[str, Summary | None]:
    """Under the key's row lock: send now (and the closed window's summary), or count."""
    window = window_seconds()
    with transaction() as tx:
        created = tx.execute(
            """INSERT INTO alert_windows (key, title, noun, window_started_at, window_ends_at,
                                          last_sent_at)
               VALUES (%s, %s, %s, clock_timestamp(),
                       clock_timestamp() + make_interval(secs => %s), clock_timestamp())
               ON CONFLICT (key) DO NOTHING RETURNING key""",
            (key, title, noun, window),
        ).fetchone()
        if created:
            return "send", None
        row = tx.execute(
            """SELECT *, clock_timestamp() >= window_ends_at AS closed
               FROM alert_windows WHERE key = %s FOR UPDATE""", (key,),
        ).fetchone()
        if not row["closed"]:
            tx.execute(
                """UPDATE alert_windows SET suppressed = suppressed + 1,
                          suppressed_by = jsonb_set(suppressed_by, ARRAY[%s],
                              to_jsonb(coalesce((suppressed_by ->> %s)::int, 0) + 1))
                   WHERE key = %s""",
                (label, label, key),
            )
            return "suppressed", None
        summary = _summary(row) if row["suppressed"] else None
        tx.execute(
            """UPDATE alert_windows SET title = %s, noun = %s,
                      window_started_at = clock_timestamp(),
                      window_ends_at = clock_timestamp() + make_interval(secs => %s),
                      suppressed = 0, suppressed_by = '{}', last_sent_at = clock_timestamp()
               WHERE key = %s""",
            (title, noun, window, key),
        )
        return "send", summary


def _summary(row: dict) -> Summary:
    span = (row["window_ends_at"] - row["window_started_at"]).total_seconds()
    by_label = row["suppressed_by"]
    if isinstance(by_label, str):
        by_label = json.loads(by_label)
    return Summary(row["key"], row["title"], row["noun"], int(row["suppressed"]),
                   {str(k): int(v) for k, v in by_label.items()}, round(span, 1))


def payload(key: str, title: str, text: str, severity: str,
            fields: Mapping[str, Any] | None = None) -> dict:
    """Slack-compatible message: `text` (fallback/notification) plus Block Kit blocks."""
    head = f"{_ICONS.get(severity, '')} [{severity.upper()}] {title}".strip()
    blocks: list[dict] = [{"type": "section", "text": {
        "type": "mrkdwn", "text": _clip(f"*{head}*\n{text}")}}]
    items = [(k, v) for k, v in (fields or {}).items() if v not in (None, "")]
    if items:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _clip(f"*{k}*\n{v}", 1900)}
            for k, v in items[:_MAX_FIELDS]]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"alert key `{key}` · relay"}]})
    return scrub_value({"text": _clip(f"{head}: {text}"), "blocks": blocks})


def summary_payload(summary: Summary) -> dict:
    title = f"{summary.title} (summary)" if summary.title else "Alert summary"
    return payload(summary.key, title, summary.text, "error", {"key": summary.key})


def _clip(text: str, limit: int = _TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _client() -> requests.Session:
    """One Session per process (re-created after fork, like the DB pool)."""
    global _session, _session_pid
    with _session_lock:
        if _session is None or _session_pid != os.getpid():
            _session = requests.Session()
            _session_pid = os.getpid()
        return _session


def _post(url: str, body: dict) -> bool:
    try:
        require_secure_url(url, "ONCALL_WEBHOOK_URL")
    except ValueError:  # the message would echo the URL, which is a secret
        log.error("alerts.webhook_refused",
                  error="ONCALL_WEBHOOK_URL must be https (plain http only for loopback)")
        return False
    try:
        resp = _client().post(url, json=body, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        log.warning("alerts.webhook_failed", error=exc.__class__.__name__)
        return False
    if not 200 <= resp.status_code < 300:
        log.warning("alerts.webhook_rejected", status=resp.status_code,
                    body=scrub(resp.text[:200]))
        return False
    return True

