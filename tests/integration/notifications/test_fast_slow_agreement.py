"""Notifications decide twice: fast paths in SQL (relay/sql/notifications.sql) and the
careful path in Python (notifications/service.py), and the "sent" outcome has a single and
a batch form. Each case is built twice, for two events alike, and given to each path; they
must decide alike.

The fast claim may decline what the careful path would claim (it then takes the careful
path), but whatever it claims the careful path claims too, leaving the same rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from notifications import record_order_event, service
from notifications.campaigns import store as campaign_store
from relay.db import connection, run_one

LEASE_S = 30.0


@dataclass(frozen=True)
class Setup:
    """How the event's first channel (email; sms is its standby) stands before the call."""

    state: str = "pending"          # the email row's state
    claim: str | None = None        # None | live | lapsed
    expires: str | None = None      # None | later | past
    me: str = "email"               # the row the message is for: email | sms | unknown


_CLAIMED_UNTIL = {None: None, "live": timedelta(minutes=1), "lapsed": timedelta(seconds=-5)}
_EXPIRES = {"later": timedelta(hours=1), "past": timedelta(minutes=-1)}


def _build(setup: Setup) -> tuple[uuid.UUID, str]:
    """An order update recorded as producers do, then moved to the case's state; returns
    (the message's notification id, the event id)."""
    order = f"SO-{uuid.uuid4().hex[:8]}"
    doc = {"event_id": f"agree-{uuid.uuid4().hex[:12]}", "type": "shipped", "order_id": order,
           "occurred_at": datetime.now(UTC).isoformat(), "brand": "acme", "country": "ES",
           "locale": "es-ES",
           "customer": {"customer_id": "C-1001", "email": "ana@example.com",
                        "phone": "+34600000000", "channels": ["email", "sms"],
                        "marketing_opt_in": False},
           "order": {"number": order, "items": [{"sku": "X1", "name": "Lamp", "qty": 1}]}}
    if setup.expires:
        doc["expires"] = (datetime.now(UTC) + _EXPIRES["later"]).isoformat()
    rows = {n.channel: n.id for n in record_order_event(doc)}
    now = datetime.now(UTC)
    with connection() as conn:
        if setup.expires == "past":   # intake refuses an expired event: it expires later
            at = now + _EXPIRES["past"]
            conn.execute("""UPDATE order_events SET expires = %(at)s,
                                   payload = (jsonb_build_object('expires', %(iso)s::text)
                                              || (payload::jsonb - 'expires'))::json
                            WHERE event_id = %(event)s""",
                         {"at": at, "iso": at.isoformat(), "event": doc["event_id"]})
        until = _CLAIMED_UNTIL[setup.claim]
        conn.execute("""UPDATE notifications SET state = %s, claim_token = %s,
                               claimed_until = %s, attempts = %s,
                               sent_at = CASE WHEN %s = 'sent' THEN now() END
                        WHERE id = %s""",
                     (setup.state, uuid.uuid4() if until else None,
                      now + until if until else None, 1 if until else 0, setup.state,
                      rows["email"]))
        conn.commit()
    return (rows[setup.me] if setup.me in rows else uuid.uuid4()), doc["event_id"]


def _rows(event_id: str) -> list[tuple]:
    """What a decision leaves, comparable across the two events."""
    with connection() as conn:
        found = conn.execute(
            """SELECT n.channel, n.state, n.reason, n.attempts, n.claim_token IS NOT NULL,
                      n.claimed_until IS NOT NULL, n.activated_at IS NOT NULL,
                      n.sent_at IS NOT NULL, o.done_at IS NOT NULL AS done,
                      (SELECT count(*) FROM attempts a WHERE a.entity_id = n.id) AS attempts_n
               FROM notifications n LEFT JOIN outbox o ON o.entity_id = n.id
               WHERE n.event_id = %s ORDER BY n.rank""", (event_id,)).fetchall()
        conn.commit()
    return [tuple(r.values()) for r in found]


@dataclass(frozen=True)
class ClaimCase:
    name: str
    setup: Setup
    fast: str      # claimed | declined
    slow: str      # the careful path's answer


CLAIM_CASES = [
    ClaimCase("a pending order update", Setup(), "claimed", "claimed"),
    ClaimCase("claimed by a live worker", Setup("sending", "live"), "declined", "busy"),
    ClaimCase("already sent", Setup("sent"), "declined", "duplicate"),
    ClaimCase("a standby fallback", Setup(me="sms"), "declined", "standby"),
    ClaimCase("an expired event", Setup(expires="past"), "declined", "expired"),
    ClaimCase("no such notification", Setup(me="unknown"), "declined", "unknown"),
    # declined by the fast claim, claimed by the careful path, which records the lapse or
    # checks the expiry first
    ClaimCase("a lapsed claim", Setup("sending", "lapsed"), "declined", "claimed"),
    ClaimCase("an event that expires later", Setup(expires="later"), "declined", "claimed"),
]


@pytest.mark.parametrize("case", CLAIM_CASES, ids=[c.name for c in CLAIM_CASES])
def test_the_fast_claim_claims_only_what_the_careful_path_claims(db, broker, case):
    # given the same case for two events
    fast_id, fast_event = _build(case.setup)
    slow_id, slow_event = _build(case.setup)
    # when
    row = run_one("SELECT * FROM notification_claim(%s, %s, %s)",
                  (fast_id, uuid.uuid4(), LEASE_S))
    slow = service._claim_deciding(slow_id)
    # then
    decided = ("claimed" if row else "declined",
               slow if isinstance(slow, str) else "claimed")
    assert decided == (case.fast, case.slow)
    if row:
        assert row["channel"] == slow.channel
        assert row["payload"]["type"] == slow.event.type.value
        assert _rows(fast_event) == _rows(slow_event)


@dataclass(frozen=True)
class SentCase:
    name: str
    setup: Setup
    outcome: str   # what both forms answer


SENT_CASES = [
    SentCase("claimed, with a standby fallback", Setup("sending", "live"), "sent"),
    SentCase("our claim lapsed and a worker re-claimed it", Setup("sending", "lapsed"),
             "sent"),
    SentCase("another worker sent it first", Setup("sent"), "duplicate_send"),
    SentCase("no such notification", Setup(me="unknown"), "unknown"),
]


def _sent_single(notification_id: uuid.UUID, at: datetime) -> str:
    row = run_one("SELECT * FROM notification_sent(%s, %s, %s, %s, %s, %s, %s, %s)",
                  (notification_id, at, "prov-1", at, 12.5, 250, "email accepted", "w1"))
    return row["outcome"]


def _sent_batch(notification_id: uuid.UUID, at: datetime) -> str:
    with connection() as conn:
        rows = conn.execute(
            "SELECT * FROM notifications_sent_batch(%s, %s, %s, %s, %s, %s, %s, %s)",
            ([notification_id], [at], ["prov-1"], [at], [12.5], [250], ["email accepted"],
             "w1")).fetchall()
        conn.commit()
    return rows[0]["outcome"] if rows else "unknown"   # the batch answers known ids only


@pytest.mark.parametrize("case", SENT_CASES, ids=[c.name for c in SENT_CASES])
def test_the_single_and_the_batch_sent_outcome_decide_alike(db, broker, case):
    at = datetime.now(UTC)
    # given the same case for two events
    single_id, single_event = _build(case.setup)
    batch_id, batch_event = _build(case.setup)
    # when
    decided = (_sent_single(single_id, at), _sent_batch(batch_id, at))
    # then
    assert decided == (case.outcome, case.outcome)
    assert _rows(single_event) == _rows(batch_event)


@dataclass(frozen=True)
class BatchCase:
    name: str
    campaign: str = "running"       # the campaign's state
    state: str = "pending"          # the promotion row's state
    expired: bool = False
    quiet: bool = False             # quiet hours now, in the customer's country
    batch: str = "claimed"          # the campaign batch claim: claimed | declined
    slow: str = "claimed"           # the careful path's answer


BATCH_CASES = [
    BatchCase("a running campaign's promotion"),
    BatchCase("a paused campaign", campaign="paused", batch="declined", slow="paused"),
    BatchCase("a cancelled campaign", campaign="cancelled", batch="declined",
              slow="cancelled"),
    BatchCase("an expired promotion", expired=True, batch="declined", slow="expired"),
    BatchCase("quiet hours", quiet=True, batch="declined", slow="parked"),
    BatchCase("already sent", state="sent", batch="declined", slow="duplicate"),
]


def _promotion(case: BatchCase) -> uuid.UUID:
    """One recipient of a campaign in the case's state; returns its notification id."""
    from notifications import record_order_events

    campaign = f"agree-{uuid.uuid4().hex[:8]}"
    with connection() as conn:
        conn.execute("""INSERT INTO campaigns (id, name, subject, url, brand, state)
                        VALUES (%s, 'Agreement', '40%% off', 'https://shop.example/x', 'acme',
                                %s)""", (campaign, case.campaign))
        conn.commit()
    doc = {"event_id": f"agree-{uuid.uuid4().hex[:12]}", "type": "promotion",
           "occurred_at": datetime.now(UTC).isoformat(), "brand": "acme", "country": "ES",
           "locale": "es-ES",
           "customer": {"customer_id": "C-1001", "email": "ana@example.com",
                        "channels": ["email"], "marketing_opt_in": True},
           "campaign": {"id": campaign, "name": "Agreement", "subject": "40% off",
                        "url": "https://shop.example/x"}}
    if case.expired:
        doc["expires"] = (datetime.now(UTC) + _EXPIRES["later"]).isoformat()
    row = next(n for n in record_order_events([doc], campaign_id=campaign).notifications
               if n.channel == "email")
    at = datetime.now(UTC) + _EXPIRES["past"]
    with connection() as conn:
        if case.expired:
            conn.execute("""UPDATE order_events SET expires = %(at)s,
                                   payload = (jsonb_build_object('expires', %(iso)s::text)
                                              || (payload::jsonb - 'expires'))::json
                            WHERE event_id = %(event)s""",
                         {"at": at, "iso": at.isoformat(), "event": doc["event_id"]})
        conn.execute("""UPDATE notifications SET state = %s,
                               sent_at = CASE WHEN %s = 'sent' THEN now() END
                        WHERE id = %s""", (case.state, case.state, row.id))
        conn.commit()
    return row.id


@pytest.mark.parametrize("case", BATCH_CASES, ids=[c.name for c in BATCH_CASES])
def test_the_campaign_batch_claim_claims_what_the_careful_path_claims(db, broker,
                                                                      monkeypatch, case):
    """The batch claim (notifications/campaigns/store.py) is the set form of the claim:
    the careful path answers every id it passes over, so it must claim exactly what the
    careful path would."""
    from notifications import policy

    now = datetime.now(UTC)
    hour = now.astimezone(policy.country_zone("ES")).hour
    # quiet hours: a window holding this hour in Madrid, or none at all
    monkeypatch.setenv("PROMO_QUIET_HOURS", f"{hour}-{(hour + 2) % 24}" if case.quiet
                       else "off")
    quiet = ["ES"] if policy.quiet_wait_seconds("ES", now) else []
    assert bool(quiet) == case.quiet
    # given the same case twice
    batch_id, slow_id = _promotion(case), _promotion(case)
    # when
    with connection() as conn:
        claimed = conn.execute(campaign_store._CLAIM, {
            "ids": [batch_id], "token": uuid.uuid4(), "lease": LEASE_S, "quiet": quiet,
        }).fetchall()
        conn.commit()
    slow = service._claim_deciding(slow_id)
    # then
    decided = ("claimed" if claimed else "declined",
               slow if isinstance(slow, str) else "claimed")
    assert decided == (case.batch, case.slow)
