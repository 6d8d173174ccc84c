"""The SLA check end to end: real worker processes serve notify.expedite while the normal
queue is stuck; the late update and the delay notice reach the customer."""

from __future__ import annotations

import pytest

from notifications.sla.check import check
from standins import push, sms, smtp
from tests.integration.sla.conftest import past_event, rows
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_late_work_jumps_the_line_on_the_expedite_worker(relay_env, start_worker):
    with smtp.serve() as sink, sms.serve() as sms_api, push.serve() as push_api:
        # given: nobody serves notify.transactional (a stuck backlog); a worker serves
        # only notify.expedite
        start_worker("notify.expedite", concurrency=2, env={
            "SMTP_URL": f"smtp://127.0.0.1:{sink.port}", "SMS_API_URL": sms_api.url,
            "PUSH_API_URL": push_api.url})
        at_risk = past_event("shipped", minutes_ago=65, customer__channels=["email"])
        breached = past_event("packed", minutes_ago=125, customer__channels=["email"])
        # when the check runs
        done = check()
        assert (done["expedited"], done["breached"]) == (2, 1)
        # then both updates go out via the expedite worker, plus one delay notice
        wait_until(lambda: len(sink.messages()) == 3, timeout=30, message="3 emails")
        subjects = sorted(str(m.message["Subject"]) for m in sink.messages())
        assert sum("delayed" in s for s in subjects) == 1
        assert rows(at_risk["event_id"])["email"]["sent_at"] <= rows(
            at_risk["event_id"])["email"]["deadline"]
        late = rows(breached["event_id"])["email"]
        assert late["state"] == "sent" and late["breached_at"] is not None
