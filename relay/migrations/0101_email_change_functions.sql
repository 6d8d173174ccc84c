-- The email sync's slot hand-over and its hot path, server-side.
--
-- Why a function: a synced change is the common outcome, and recording it takes six
-- statements (lock the customer, record the attempt, mark synced, finish the outbox row,
-- hand the slot to the next pending change, wake it). Sent one by one they cost the worker
-- about as much CPU as the HTTP call itself; as one function they are one statement and
-- one round trip. Each statement inside still takes its own snapshot (READ COMMITTED,
-- VOLATILE), so the slot hand-over sees every change committed before the customer lock
-- was granted, exactly as when Python sends them.

-- The customer's slot is free: give it to the oldest pending change and wake that change.
-- The caller holds the customer's row lock. Returns the woken change (none if no change is
-- pending) with the task and queue to publish after commit.
CREATE FUNCTION email_change_advance(p_brand text, p_country text, p_customer_id text)
RETURNS TABLE (change_id uuid, task text, queue text)
LANGUAGE plpgsql AS $$
DECLARE
    nxt uuid;
BEGIN
    UPDATE email_change_customers c SET active_change = (
        SELECT e.id FROM email_changes e
        WHERE e.brand = p_brand AND e.country = p_country AND e.customer_id = p_customer_id
          AND e.state = 'pending'
        ORDER BY e.seq LIMIT 1)
    WHERE c.brand = p_brand AND c.country = p_country AND c.customer_id = p_customer_id
    RETURNING c.active_change INTO nxt;
    IF nxt IS NOT NULL THEN
        RETURN QUERY SELECT nxt, w.task, w.queue FROM outbox_wake(nxt) w;
    END IF;
END;
$$;

-- Homeria applied the change: record the attempt, mark it synced (only if our claim still
-- holds), finish its outbox row and hand the customer's slot on. `outcome` is 'synced' or
-- 'claim_lost' (another worker re-claimed it after our lease ran out; the attempt is
-- still recorded). next_* is the woken change to publish after commit, if any.
CREATE FUNCTION email_change_synced(
    p_id uuid, p_token uuid, p_customer_ref text, p_reason text, p_status_code integer,
    p_started_at timestamptz, p_latency_ms double precision, p_worker text)
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
                          detail, worker)
    VALUES ('email_change', p_id, p_started_at, p_latency_ms, p_status_code, 'synced',
            p_reason, p_worker);

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
