"""The proof of issue 19: fill every table through the public paths, erase one customer,
run retention, then look for their data everywhere relay keeps anything.

Three customers: A's work is finished (retention's subject), B is erased, C has work still
open (a pending email change, a notification waiting to retry): C's data must stay, and
finding it proves the scan can find anything at all.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from notifications.producer import record_order_event
from notifications.sla import reports
from notifications.sla.check import check
from relay import deadletters, telemetry
from relay.privacy import catalog, retention
from relay.settings import reset_settings_cache
from standins import sentry, webhook
from sync_worker import enqueue_email_change, enqueue_profile_change, profile_service, service
from sync_worker.reconcile import reconcile
from tests.support import run_cli
from tests.support.events import event
from tests.support.notifications import drain
from tests.support.privacy import LogCapture, blob_hits, database_hits, redis_hits, row_counts

# needles: a token of every email and the last name, the phone's national number, the
# first name
A = {"id": "C-A", "old": "c1@example.com", "new": "ana.arroyo@example.com",
     "phone": "+34600000111", "first": "Amparo", "last": "Arroyo",
     "needles": ["arroyo", "600000111", "amparo"]}
B = {"id": "C-B", "old": "c2@example.com", "new": "bea.bravo@example.com",
     "phone": "+34600000222", "first": "Berenguela", "last": "Bravo",
     "needles": ["bravo", "600000222", "berenguela"]}
C = {"id": "C-C", "old": "c3@example.com", "new": "cruz.castillo@example.com",
     "phone": "+34600000333", "first": "Casilda", "last": "Castillo",
     "needles": ["castillo", "600000333", "casilda"]}

# Tables no customer path writes to, and why.
UNFILLED = {"schema_migrations": "migrations", "canaries": "relay canary probes only",
            "privacy_erasures": "written by the erasure below",
            "queue_watch": "the stall watchdog's per-queue view: queue names, times, counts",
            "beat_runs": "when each beat entry last ran, and which beat sent it",
            # the HTTP API's (branch api): hashed keys, and which key submitted which ids
            "api_keys": "HTTP API keys, stored hashed",
            "api_submissions": "key names and the change/order ids each key submitted",
            "console_sessions": "console sign-ins: hashed tokens of API keys",
            # campaigns: a campaign's name, subject, url, brand and counts; its recipients
            # are promotion notifications, which the scan covers
            "campaigns": "campaign documents: no customer data"}


@pytest.fixture
def captured_logs():
    handler = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)   # LOG_LEVEL's default
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def sentry_ingest(monkeypatch):
    """Sentry and the on-call webhook pointed at stand-ins: both are places data could leak
    to, and the webhook's alert windows are one more table to fill.

    Sentry runs with relay's own scrubbing hooks (telemetry.scrub_event/scrub_breadcrumb)
    but without its integrations: the Celery one patches Celery for the rest of this
    process (every later message would carry Sentry headers)."""
    import sentry_sdk

    with sentry.serve() as ingest, webhook.serve() as hook:
        monkeypatch.setenv("ONCALL_WEBHOOK_URL", hook.url)
        reset_settings_cache()
        sentry_sdk.init(dsn=f"http://publickey@127.0.0.1:{ingest.port}/1",
                        before_send=telemetry.scrub_event,
                        before_breadcrumb=telemetry.scrub_breadcrumb,
                        default_integrations=False, auto_enabling_integrations=False,
                        include_local_variables=False, traces_sample_rate=0.0)
        ingest.hook = hook
        yield ingest
        sentry_sdk.get_client().flush(timeout=5)
        # off again for the rest of the session (an init with defaults would patch Celery)
        sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)
        reset_settings_cache()


def _order(person: dict, channels: list[str], **changes) -> dict:
    return event("shipped", customer__customer_id=person["id"], customer__email=person["new"],
                 customer__phone=person["phone"], customer__channels=channels, **changes)


def _change(person: dict, current: str, new: str):
    return enqueue_email_change(person["id"], current, new, "acme", "ES",
                                requested_by="agent-7",
                                request_id=f"ticket-{uuid.uuid4().hex[:10]}")


def _profile(person: dict):
    return enqueue_profile_change(
        person["id"], person["new"], "acme", "ES",
        {"phone": person["phone"], "first_name": person["first"], "last_name": person["last"],
         "address": {"line1": f"Calle {person['last']} 1", "city": "Madrid",
                     "postal_code": "28013", "country": "ES"}},
        requested_by="agent-7")


def _fill(wired, homeria, sync_rt) -> None:
    # email changes: A and B synced; B's second change meets no customer (open dead
    # letter); A's likewise, discarded by on-call
    ghosts = {}
    for person in (A, B):
        first = _change(person, person["old"], person["new"])
        assert service.deliver(first.change_id) == "synced"
        assert profile_service.deliver(_profile(person).change_id) == "synced"
        ghost = _change(person, f"ghost.{person['needles'][0]}@example.com",
                        f"other.{person['needles'][0]}@example.com")
        assert service.deliver(ghost.change_id) == "dead"
        ghosts[person["id"]] = str(ghost.change_id)
    assert reconcile(sample=10)["matched"] == 2
    (a_dead,) = [d for d in deadletters.find() if d["entity_id"] == ghosts[A["id"]]]
    deadletters.discard([a_dead["id"]], by="oncall", why="customer left")
    # order notifications: email, in-app, and B's late SMS that breaches its SLA
    for person in (A, B):
        record_order_event(_order(person, ["email"]))
        record_order_event(_order(person, ["inapp"]))
    late = datetime.now(UTC) - timedelta(hours=30)
    record_order_event(_order(B, ["sms"], occurred_at=late.isoformat()))
    assert check()["breached"] == 1
    drain()
    # C: work still open
    _change(C, C["old"], C["new"])   # never delivered: pending
    _profile(C)                        # waits behind it
    wired["sms"].faults.update(error_rate=1.0, error_status=503)
    record_order_event(_order(C, ["sms"]))
    drain()
    reports.rollup_due()


def _hits_outside_open_work(hits: list[dict]) -> list[dict]:
    def open_row(hit: dict) -> bool:
        row = hit["row"]
        if hit["table"] in ("email_changes", "profile_changes"):
            return row["state"] in ("pending", "in_flight")
        if hit["table"] == "order_events":
            return row["redacted_at"] is None and row["customer_id"] == C["id"]
        return False
    return [h for h in hits if not open_row(h)]


def test_erasure_and_retention_leave_no_personal_data_and_reports_unchanged(
        wired, homeria, sync_rt, relay_env, redis_client, captured_logs, sentry_ingest,
        monkeypatch):
    monkeypatch.setenv("SLA_ESCALATE_AFTER", "1")
    # given every table filled through the public paths
    _fill(wired, homeria, sync_rt)
    counts = row_counts()
    empty = [t for t, n in counts.items() if n == 0 and t not in UNFILLED]
    assert not empty, f"tables the test did not fill: {empty}"
    everyone = A["needles"] + B["needles"] + C["needles"]
    before = database_hits(everyone)
    assert {h["needle"] for h in before} == set(everyone)
    # every table found holding personal data is in the catalogue retention and erasure
    # follow (and the README's table)
    assert {h["table"] for h in before} <= {h.table for h in catalog.holdings()}
    now = datetime.now(UTC)
    # from midnight two days back: B's late order happened 30 hours ago, which before
    # 06:00 UTC is earlier than yesterday's midnight
    period = (now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2),
              now + timedelta(hours=1))
    report_before = reports.report(*period, now=now)
    assert report_before["overall"]["events"] >= 5

    # when B is erased (the CLI, as on-call would) ...
    erased = run_cli(["privacy", "erase", "--customer-id", B["id"], "--brand", "acme",
                      "--country", "ES", "--why", "DSR-1", "--yes", "--json"], relay_env)
    assert erased.returncode == 0, erased.stderr
    outcome = json.loads(erased.stdout)
    assert outcome["complete"] and outcome["erased"]["dead_letters_discarded"] == 1
    assert outcome["erased"]["inbox"] == 1 and outcome["erased"]["sla_breaches"] == 1
    assert outcome["erased"]["profile_changes"] == 1
    # ... then nothing of B is left anywhere
    assert database_hits(B["needles"]) == []
    exported = run_cli(["privacy", "export", "--customer-id", B["id"], "--brand", "acme",
                        "--country", "ES"], relay_env)
    assert exported.returncode == 0, exported.stderr
    doc = json.loads(exported.stdout)
    assert len(doc["erasures"]) == 1 and doc["order_events"] == []
    assert blob_hits([exported.stdout.encode(), erased.stderr.encode()], B["needles"]) == []

    # when retention runs as if PII_RETENTION_DAYS had passed
    done = retention.run(now=datetime.now(UTC) + timedelta(days=31))
    # A's two email changes and profile change (B's are erased already; C's are open),
    # A's inbox message
    assert done.redacted["email_changes"] == 2 and done.redacted["inbox"] == 1
    assert done.redacted["profile_changes"] == 1

    # then A's data is gone, C's open work keeps its data (and only there)
    assert database_hits(A["needles"]) == []
    c_hits = database_hits(C["needles"])
    assert {h["table"] for h in c_hits} == {"email_changes", "profile_changes",
                                            "order_events"}
    assert _hits_outside_open_work(c_hits) == []
    # nothing of anyone in the logs, Redis or Sentry
    assert captured_logs.lines and captured_logs.hits(everyone) == []
    assert redis_hits(redis_client, everyone) == []
    import sentry_sdk

    sentry_sdk.get_client().flush(timeout=5)
    assert sentry_ingest.state, "nothing reached the Sentry stand-in"
    assert blob_hits(sentry_ingest.state, everyone) == []
    posts = [json.dumps(p).encode() for p in sentry_ingest.hook.state.posts()]
    assert posts and blob_hits(posts, everyone) == []
    # and the reports for the period are what they were
    assert reports.report(*period, now=now) == report_before


def test_export_shows_everything_held_before_erasure(wired, homeria, sync_rt, relay_env):
    first = _change(A, A["old"], A["new"])
    service.deliver(first.change_id)
    record_order_event(_order(A, ["inapp"]))
    drain()
    result = run_cli(["privacy", "export", "--customer-id", A["id"], "--brand", "ACME",
                      "--country", "es"], relay_env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["email_changes"][0]["new_email"] == A["new"]
    assert doc["order_events"][0]["payload"]["customer"]["phone"] == A["phone"]
    assert doc["inbox"] and doc["inbox"][0]["body"]
    assert doc["attempts"] and doc["erasures"] == []


def test_erase_refuses_bad_input_and_needs_confirmation(relay_env):
    bad = run_cli(["privacy", "erase", "--customer-id", "C-1", "--brand", "nope",
                   "--country", "ES", "--yes"], relay_env)
    assert bad.returncode == 2 and "brand" in bad.stderr
    unconfirmed = run_cli(["privacy", "erase", "--customer-id", "C-1", "--brand", "acme",
                           "--country", "ES"], relay_env)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
