-- The 2-hour SLA (notifications/sla.py): what the beat check records, and the daily
-- rollups the monthly report reads.

-- Per notification row: when the check re-published it to notify.expedite (once), and
-- when it passed its deadline still unsent (it may be sent later; it stays late).
ALTER TABLE notifications ADD COLUMN expedited_at timestamptz;
ALTER TABLE notifications ADD COLUMN breached_at timestamptz;

-- The check reads unsent transactional rows only: these indexes hold just those rows, so
-- its cost grows with the backlog, not with the table.
CREATE INDEX notifications_sla_unsent ON notifications (occurred_at)
    WHERE state IN ('pending', 'sending') AND queue = 'notify.transactional';
CREATE INDEX notifications_sla_unbreached ON notifications (deadline)
    WHERE state IN ('pending', 'sending') AND queue = 'notify.transactional'
      AND breached_at IS NULL;
-- Drain rate (sent per minute, recent) and report ranges (by the event's time).
CREATE INDEX notifications_sent_at ON notifications (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX notifications_occurred ON notifications (occurred_at);

-- One row per order event that breached: the primary key is the claim that makes the
-- alert and the delay notice happen once, however many checkers run.
CREATE TABLE sla_breaches (
    event_id         text PRIMARY KEY,
    notification_id  uuid NOT NULL,
    customer_id      text NOT NULL,
    order_id         text,
    event_type       text NOT NULL,
    channel          text NOT NULL,
    brand            text NOT NULL,
    country          text NOT NULL,
    deadline         timestamptz NOT NULL,
    breached_at      timestamptz NOT NULL,
    delay_event_id   text,
    delay_channel    text,
    delay_skipped    text
);
CREATE INDEX sla_breaches_customer ON sla_breaches (customer_id, breached_at);
CREATE INDEX sla_breaches_order ON sla_breaches (order_id, breached_at);
CREATE INDEX sla_breaches_at ON sla_breaches (breached_at);

-- Customers with repeated breaches, flagged for a personal follow-up.
CREATE TABLE sla_escalations (
    id           bigserial PRIMARY KEY,
    customer_id  text NOT NULL,
    brand        text NOT NULL,
    breaches     integer NOT NULL,
    event_ids    text[] NOT NULL,
    opened_at    timestamptz NOT NULL,
    resolved_at  timestamptz,
    resolved_by  text,
    note         text
);
CREATE INDEX sla_escalations_customer ON sla_escalations (customer_id, opened_at);
CREATE INDEX sla_escalations_open ON sla_escalations (opened_at) WHERE resolved_at IS NULL;

-- Daily rollups by the event's UTC day. Event counts use the channel that delivered the
-- event (or, unsent, the first channel planned); attempt counts use the attempt's channel.
-- latency_buckets[i] counts delivered events per fixed latency bucket
-- (notifications/sla.py LATENCY_BOUNDS) so percentiles can be approximated from rollups.
CREATE TABLE sla_daily (
    day              date NOT NULL,
    event_type       text NOT NULL,
    channel          text NOT NULL,
    brand            text NOT NULL,
    country          text NOT NULL,
    events           bigint NOT NULL DEFAULT 0,
    on_time          bigint NOT NULL DEFAULT 0,
    late             bigint NOT NULL DEFAULT 0,
    unsent_late      bigint NOT NULL DEFAULT 0,
    breached         bigint NOT NULL DEFAULT 0,
    latency_sum_s    double precision NOT NULL DEFAULT 0,
    latency_buckets  bigint[] NOT NULL,
    attempts         bigint NOT NULL DEFAULT 0,
    failed_attempts  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, event_type, channel, brand, country)
);
-- Which days are rolled up (a day with no events still has a row here).
CREATE TABLE sla_rollup_days (
    day        date PRIMARY KEY,
    rolled_at  timestamptz NOT NULL,
    events     bigint NOT NULL,
    bounds     double precision[] NOT NULL
);
