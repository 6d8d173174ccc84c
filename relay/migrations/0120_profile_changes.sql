-- Profile changes to sync to Homeria (issue 19): phone, names, address.
--
-- One order per customer, shared with email changes: a profile change takes its `seq`
-- from the same sequence as email_changes and waits for the same per-customer slot
-- (email_change_customers.active_change holds the id of either kind). So an email change
-- and a phone change of one customer reach Homeria in the order they were made.
--
-- `email` is the customer's email as Homeria will hold it when the change is applied:
-- the caller's, or the new email of an email change still queued ahead of it (producer).
-- Waiting changes are merged field by field when claimed: the latest of a run of pending
-- profile changes (no email change between) carries the merged fields (`sent_changes`),
-- the others become 'superseded' (carried_by). Once claimed the body is frozen
-- (sent_email, sent_changes); `delivery` numbers deliberate re-deliveries after a
-- permanent answer: 0 sends Idempotency-Key = id, n > 0 a key derived from (id, n).
CREATE TABLE profile_changes (
    id                uuid PRIMARY KEY,
    seq               bigint NOT NULL DEFAULT nextval('email_changes_seq_seq'),
    customer_id       text NOT NULL,
    brand             text NOT NULL,
    country           text NOT NULL,
    email             text,
    changes           jsonb,
    requested_by      text,
    request_id        text,
    requested_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'in_flight', 'synced', 'superseded', 'dead')),
    sent_email        text,
    sent_changes      jsonb,
    delivery          integer NOT NULL DEFAULT 0,
    carried_by        uuid,
    carried_count     integer NOT NULL DEFAULT 0,
    claim_token       uuid,
    claimed_until     timestamptz,
    failures          integer NOT NULL DEFAULT 0,
    first_failure_at  timestamptz,
    last_outcome      text,
    last_status_code  integer,
    customer_ref      text,
    synced_at         timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    redacted_at       timestamptz
);
CREATE UNIQUE INDEX profile_changes_request_id ON profile_changes (request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX profile_changes_customer_open ON profile_changes (brand, country, customer_id, seq)
    WHERE state IN ('pending', 'in_flight');
CREATE INDEX profile_changes_customer ON profile_changes (brand, country, customer_id, seq);
CREATE INDEX profile_changes_state ON profile_changes (state);
CREATE INDEX profile_changes_unredacted ON profile_changes (finished_at)
    WHERE redacted_at IS NULL AND finished_at IS NOT NULL;

-- The slot is handed to the oldest pending change of either kind.
CREATE OR REPLACE FUNCTION email_change_advance(p_brand text, p_country text,
                                                p_customer_id text)
RETURNS TABLE (change_id uuid, task text, queue text)
LANGUAGE plpgsql AS $$
DECLARE
    nxt uuid;
BEGIN
    SELECT x.id INTO nxt FROM (
        SELECT e.id, e.seq FROM email_changes e
        WHERE e.brand = p_brand AND e.country = p_country AND e.customer_id = p_customer_id
          AND e.state = 'pending'
        UNION ALL
        SELECT p.id, p.seq FROM profile_changes p
        WHERE p.brand = p_brand AND p.country = p_country AND p.customer_id = p_customer_id
          AND p.state = 'pending'
    ) x ORDER BY x.seq LIMIT 1;
    UPDATE email_change_customers c SET active_change = nxt
    WHERE c.brand = p_brand AND c.country = p_country AND c.customer_id = p_customer_id;
    IF nxt IS NOT NULL THEN
        RETURN QUERY SELECT nxt, w.task, w.queue FROM outbox_wake(nxt) w;
    END IF;
END;
$$;

-- Reconciliation runs now measure every synced field: per-field drift and what a
-- `--repair` run re-sent.
ALTER TABLE email_sync_reconciliations ADD COLUMN drift jsonb;
ALTER TABLE email_sync_reconciliations ADD COLUMN repaired integer NOT NULL DEFAULT 0;
