"""The 2-hour SLA: what it promises, how it is counted, and who checks it.

Promise: 95 % of order notifications reach the customer within NOTIFICATION_SLA_SECONDS
(2 h) of the event. Each event's `deadline` is `occurred_at + NOTIFICATION_SLA_SECONDS`,
fixed at intake.

What counts (the "SLA unit" is the order event, not the notification row):
- transactional events only (queue notify.transactional); promotions and our own
  `delay_notice` events are not measured;
- an event whose every row is suppressed (opted out, superseded, expired, no contact)
  had nothing to deliver and is excluded;
- the event is delivered by its first `sent` row (fallback rows are one delivery, not
  several): on time when `sent_at <= deadline`, i.e. `sent_at - occurred_at <= SLA`;
- never sent: late once `now > deadline` (dead-lettered events included), excluded
  while still within the deadline;
- by-channel figures use the channel that delivered the event (unsent: the first
  channel planned); error rates use each attempt's own channel.

The modules, each named for what it holds:
    config.py     the SLA_* tunables (read from the environment at call time)
    math.py       the pure part: on-time status, latency buckets, percentiles, prediction
    counters.py   Prometheus counters of each accepted send
    check.py      the beat check: expedite, breach, predict, gauges
    heartbeat.py  is the check alive? (the outbox sweep and `relay status` ask)
    delay.py      once per breached event: the delay notice, escalation, the alert
    reports.py    OTNR reports and the daily rollups (`relay sla report`)
    status.py     the `sla` section of `relay status` (registered by relay.bootstrap)
    tasks.py      the beat tasks notifications.sla.check / notifications.sla.rollup
Their SQL is in notifications/store/ (sla.py, breaches.py, reports.py).
"""
