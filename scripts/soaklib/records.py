"""Reading the stand-ins' own records (and relay's ids) into the checks' plain records.

Attribution of a message to an event:
- email: the `X-Relay-Notification-Id` header; push: `data.notification_id`; both mapped
  to their event through relay's notifications table (the id only, never its verdict);
- SMS carries no id: the order number in its body is `SO-<run>-<n>-<stage>` (see
  traffic.py), which names the event; a body saying "delayed" is that event's delay notice.
Breach alerts: the webhook post's fields carry `notification_id`; a summary post ("12 more
SLA breaches in the last 1 s") counts unnamed ones.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import requests

from soaklib.checks import Alert, Delivery

TIMEOUT = (3, 10)   # control calls: one small JSON document each way


def _loopback(url: str) -> str:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the soak talks to loopback stand-ins only, not {url}")
    return url


def get_json(url: str, read_timeout: float = 10, attempts: int = 1):
    """GET a stand-in's JSON. The SMTP sink parses every message it holds for
    /_control/messages, which takes seconds on a busy 2-core host: the final reads
    allow a long `read_timeout` and a few `attempts`."""
    for attempt in range(attempts):
        try:
            response = requests.get(_loopback(url), timeout=(3, read_timeout),
                                    allow_redirects=False)
            response.raise_for_status()
            return response.json() if response.content else None
        except requests.RequestException:
            if attempt == attempts - 1:
                raise
            time.sleep(2)
    return None


def post_json(url: str, doc) -> tuple[int, str]:
    """(status, body text): the caller decides what a refusal means."""
    response = requests.post(_loopback(url), json=doc, timeout=TIMEOUT,
                             allow_redirects=False)
    return response.status_code, response.text


@dataclass
class Attribution:
    deliveries: list[Delivery] = field(default_factory=list)
    unattributed: list[str] = field(default_factory=list)


def sms_event(run: str, body: str) -> str | None:
    """The event an SMS was for, from the order number in its body."""
    match = re.search(rf"SO-({re.escape(run)}-\d+-[a-z]{{2}})\b", body)
    if not match:
        return None
    event_id = f"ev-{match.group(1)}"
    return f"delay:{event_id}" if "delayed" in body.lower() else event_id


def attribute(run: str, emails: list[dict], sms: list[dict], pushes: list[dict],
              notification_events: dict[str, str]) -> Attribution:
    """Deliveries per event from the three providers' records."""
    out = Attribution()
    for mail in emails:
        headers = {k.lower(): v for k, v in (mail.get("headers") or {}).items()}
        nid = str(headers.get("x-relay-notification-id", ""))
        _add(out, notification_events.get(nid), "email", mail, f"email {nid or '(no id)'}")
    for msg in sms:
        event = sms_event(run, str(msg.get("body", "")))
        _add(out, event, "sms", msg, f"sms {msg.get('sid')}")
    for push in pushes:
        nid = str((push.get("data") or {}).get("notification_id", ""))
        _add(out, notification_events.get(nid), "push", push, f"push {nid or '(no id)'}")
    return out


def _add(out: Attribution, event_id: str | None, channel: str, record: dict,
         label: str) -> None:
    if event_id is None:
        out.unattributed.append(label)
    else:
        out.deliveries.append(Delivery(event_id, channel, float(record.get("received_at", 0))))


_SUMMARY = re.compile(r"(\d+) more SLA breaches")


def breach_alerts(posts: list[dict], notification_events: dict[str, str]) -> list[Alert]:
    """The `sla.breach` alerts among the webhook's posts (named, or summarised by count)."""
    alerts: list[Alert] = []
    for post in posts:
        blocks = post.get("blocks") or []
        context = " ".join(e.get("text", "") for b in blocks if b.get("type") == "context"
                           for e in b.get("elements", []))
        if "`sla.breach`" not in context:
            continue
        fields = {}
        for block in blocks:
            for f in block.get("fields") or []:
                name, _, value = str(f.get("text", "")).partition("\n")
                fields[name.strip("*")] = value.strip()
        summary = _SUMMARY.search(str(post.get("text", "")))
        if summary and "notification_id" not in fields:
            alerts.append(Alert(None, int(summary.group(1))))
            continue
        nid = fields.get("notification_id", "")
        alerts.append(Alert(notification_events.get(nid, f"unknown notification {nid}")))
    return alerts
