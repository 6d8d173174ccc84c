"""The notifications domain's SQL, beside sync_worker/store.py: services hold none.

Functions return rows (dicts), values or nothing — never a cursor — and never publish to
the broker (the outbox module and the services do). A function that must be part of its
caller's transaction takes that `Tx` (or connection) first; one that stands alone opens
its own.

    sending.py    claims, outcomes, fallback rows, replay (notifications/service.py,
                  fallback.py)
    intake.py     order events and their notification rows (notifications/producer.py)
    oncall.py     counts and an order's history (notifications/oncall.py)
    sla.py        the SLA beat check and its heartbeat (notifications/sla/)
    breaches.py   breach claims, delay notices and escalations (notifications/sla/delay.py)
    reports.py    OTNR counts and the daily rollups (notifications/sla/reports.py)

Queue names come in as parameters (relay/names.py), never spelled in SQL.
"""
