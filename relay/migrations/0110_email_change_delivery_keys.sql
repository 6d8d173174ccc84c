-- Replay keys (issue 13). Homeria keeps the first processed result of each
-- Idempotency-Key (200 and 4xx alike) for 30 days, so a change replayed after a permanent
-- answer must go under a new key, while a retry whose answer was lost must reuse its key
-- (Homeria then answers the kept 200 and applies nothing twice).
--
-- `delivery` is the change's delivery generation: 0 for its first delivery, whose key is
-- the change's id (the receipt's change_id); the dead-letter replayer bumps it when the
-- current key holds a permanent answer, and generation n > 0 sends uuid5(change_id, n)
-- (sync_worker/payload.py: delivery_key). Every attempt records the key it went under.
ALTER TABLE email_changes ADD COLUMN delivery integer NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN idempotency_key text;

-- The hot path's outcome function (0101) now also records the attempt's key. The new
-- argument has a default, so a worker still running the previous code keeps working
-- between `relay db migrate` and its restart.
DROP FUNCTION email_change_synced(uuid, uuid, text, text, integer, timestamptz,
                                  double precision, text);
CREATE FUNCTION email_change_synced(
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
