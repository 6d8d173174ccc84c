-- Email changes to sync to Homeria (issue 3). One row per change the producer accepted.
--
-- Per customer (brand, country, customer_id) at most one change holds the slot in
-- email_change_customers.active_change; the others wait (their outbox rows are parked)
-- and are woken in `seq` order. A change that carries others ("coalescing") is the
-- latest of a run of pending changes: it sends `sent_current_email` (the earliest one's
-- current email) -> its own new_email, and the ones it carried become 'superseded' with
-- carried_by pointing at it. Once a change has been claimed for sending, its body is
-- frozen (sent_current_email set): retries and replays resend exactly the same bytes,
-- as Homeria's Idempotency-Key rule requires.
CREATE TABLE email_changes (
    id                 uuid PRIMARY KEY,
    seq                bigserial NOT NULL,
    customer_id        text NOT NULL,
    brand              text NOT NULL,
    country            text NOT NULL,
    current_email      text NOT NULL,
    new_email          text NOT NULL,
    requested_by       text,
    request_id         text,
    requested_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    state              text NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'in_flight', 'synced', 'superseded', 'dead')),
    sent_current_email text,
    carried_by         uuid,
    carried_count      integer NOT NULL DEFAULT 0,
    claim_token        uuid,
    claimed_until      timestamptz,
    failures           integer NOT NULL DEFAULT 0,
    first_failure_at   timestamptz,
    last_outcome       text,
    last_status_code   integer,
    customer_ref       text,
    synced_at          timestamptz,
    finished_at        timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX email_changes_request_id ON email_changes (request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX email_changes_customer_open ON email_changes (brand, country, customer_id, seq)
    WHERE state IN ('pending', 'in_flight');
CREATE INDEX email_changes_state ON email_changes (state);
CREATE INDEX email_changes_synced_at ON email_changes (synced_at) WHERE state = 'synced';

-- The per-customer lock row and slot: SELECT ... FOR UPDATE on it serialises producers,
-- claims and outcomes for one customer.
CREATE TABLE email_change_customers (
    brand          text NOT NULL,
    country        text NOT NULL,
    customer_id    text NOT NULL,
    active_change  uuid,
    PRIMARY KEY (brand, country, customer_id)
);

-- Reconciliation runs: does Homeria hold what we believe we synced?
CREATE TABLE email_sync_reconciliations (
    id          bigserial PRIMARY KEY,
    ran_at      timestamptz NOT NULL DEFAULT now(),
    sample      integer NOT NULL,
    checked     integer NOT NULL,
    matched     integer NOT NULL,
    mismatched  integer NOT NULL,
    missing     integer NOT NULL,
    errors      integer NOT NULL,
    detail      jsonb
);
