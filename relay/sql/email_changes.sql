-- The email sync's hot path, server-side: the fast claim, the "synced" outcome and the
-- per-customer slot hand-over (profile changes share the slot).
--
-- Why functions: a synced change is the common outcome, and recording it takes six
-- statements (lock the customer, record the attempt, mark synced, finish the outbox row,
-- hand the slot to the next pending change, wake it). Sent one by one they cost the worker
-- about as much CPU as the HTTP call itself; as one function they are one statement and
-- one round trip. Each statement inside still takes its own snapshot (READ COMMITTED,
-- VOLATILE), so the slot hand-over sees every change committed before the customer lock
-- was granted, exactly as when Python sends them.
--
-- The careful path is Python (sync_worker/service.py claim_change, record): the claim
-- here must claim only what that path would claim alone (tests/integration/sync/
-- test_fast_slow_agreement.py drives both through the same cases).

-- Claim a change in ONE statement when nothing needs deciding: it is its customer's active
-- change, due, not claimed (or its claim lapsed before p_now), and has nothing queued behind
-- it to coalesce. No customer lock is needed: the row lock on the change serialises two
-- claimers (the second re-checks claimed_until after the first commits), and a producer
-- adding a change behind it meanwhile just waits for the next turn. No row: take the
-- careful path.
CREATE OR REPLACE FUNCTION email_change_claim(
    p_id uuid, p_token uuid, p_now timestamptz, p_until timestamptz)
RETURNS TABLE (id uuid, brand text, country text, customer_id text, sent_current_email text,
               new_email text, requested_at timestamptz, delivery integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    UPDATE email_changes e SET state = 'in_flight',
           sent_current_email = coalesce(e.sent_current_email, e.current_email),
           claim_token = p_token, claimed_until = p_until, updated_at = clock_timestamp()
    WHERE e.id = p_id AND e.state IN ('pending', 'in_flight')
      AND (e.claimed_until IS NULL OR e.claimed_until <= p_now)
      AND EXISTS (SELECT 1 FROM email_change_customers c
                  WHERE c.brand = e.brand AND c.country = e.country
                    AND c.customer_id = e.customer_id AND c.active_change = e.id)
      AND EXISTS (SELECT 1 FROM outbox o WHERE o.entity_id = e.id AND o.done_at IS NULL
                    AND o.next_attempt_at <= now())
      AND (e.sent_current_email IS NOT NULL OR NOT EXISTS (
            SELECT 1 FROM email_changes l
            WHERE l.brand = e.brand AND l.country = e.country
              AND l.customer_id = e.customer_id
              AND l.state = 'pending' AND l.seq > e.seq AND l.sent_current_email IS NULL))
    RETURNING e.id, e.brand, e.country, e.customer_id, e.sent_current_email, e.new_email,
              e.requested_at, e.delivery;
END;
$$;

-- The customer's slot is free: give it to the oldest pending change of either kind and
-- wake that change. The caller holds the customer's row lock. Returns the woken change
-- (none if no change is pending) with the task and queue to publish after commit.
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

-- Homeria applied the change: record the attempt (with its Idempotency-Key), mark it
-- synced (only if our claim still holds), finish its outbox row and hand the customer's
-- slot on. `outcome` is 'synced' or 'claim_lost' (another worker re-claimed it after our
-- lease ran out; the attempt is still recorded). next_* is the woken change to publish
-- after commit, if any. p_idempotency_key has a default so a worker still running code
-- from before keys were recorded keeps working between `relay db migrate` and its restart.
CREATE OR REPLACE FUNCTION email_change_synced(
    p_id uuid, p_token uuid, p_customer_ref text, p_reason text, p_status_code integer,
    p_started_at timestamptz, p_latency_ms double precision, p_worker text,
    p_idempotency_key text DEFAULT NULL)
RETURNS TABLE (outcome text, age_s double precision, next_id uuid, next_task text,
               next_queue text)
LANGUAGE plpgsql AS $$
DECLARE
    k record;
    age double precision;
BEGIN
    SELECT c.brand, c.country, c.customer_id INTO k
    FROM email_change_customers c
    WHERE (c.brand, c.country, c.customer_id) =
          (SELECT e.brand, e.country, e.customer_id FROM email_changes e WHERE e.id = p_id)
    FOR UPDATE;

    INSERT INTO attempts (kind, entity_id, started_at, latency_ms, status_code, outcome,
                          detail, worker, idempotency_key)
    VALUES ('email_change', p_id, p_started_at, p_latency_ms, p_status_code, 'synced',
            p_reason, p_worker, p_idempotency_key);

    UPDATE email_changes e SET state = 'synced', synced_at = clock_timestamp(),
           finished_at = clock_timestamp(), customer_ref = p_customer_ref,
           claim_token = NULL, claimed_until = NULL, last_outcome = p_reason,
           last_status_code = p_status_code, updated_at = clock_timestamp()
    WHERE e.id = p_id AND e.claim_token = p_token
    RETURNING extract(epoch FROM e.synced_at - e.requested_at) INTO age;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'claim_lost'::text, NULL::double precision, NULL::uuid,
                            NULL::text, NULL::text;
        RETURN;
    END IF;

    PERFORM outbox_complete(p_id);
    RETURN QUERY
        SELECT 'synced'::text, age, a.change_id, a.task, a.queue
        FROM (SELECT 1) one
        LEFT JOIN email_change_advance(k.brand, k.country, k.customer_id) a ON true;
END;
$$;
