-- The breach alert as an outbox (notifications/sla.py, delay.py): the breach is recorded
-- with `alert_tried_at` in the check's transaction; the post happens after commit and
-- sets `alerted_at`. A row left unmarked (the process died in between, or the webhook
-- failed) is posted again by a later check once its last try is a minute old.
ALTER TABLE sla_breaches ADD COLUMN alerted_at timestamptz;
ALTER TABLE sla_breaches ADD COLUMN alert_tried_at timestamptz;
-- Breaches recorded before this migration were alerted (or lost) back then: not again.
UPDATE sla_breaches SET alerted_at = breached_at;
CREATE INDEX sla_breaches_unalerted ON sla_breaches (breached_at) WHERE alerted_at IS NULL;
