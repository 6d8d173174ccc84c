-- The notifications' hot path, server-side: the fast claim and the "sent" outcome, single
-- and batched.
--
-- Why functions: "sent" is the common outcome, and recording it takes five statements
-- (lock the row, record the attempt, mark it sent, skip the event's standby channels,
-- finish the outbox row) inside BEGIN/COMMIT. Sent one by one they cost the worker more
-- CPU than the provider call; as one function they are one statement and one round trip.
-- Each statement inside still takes its own snapshot (READ COMMITTED, VOLATILE), and the
-- row lock is taken first, as when Python sent them.
--
-- The careful path is Python (notifications/service.py _claim_deciding); the claims here
-- must claim only what it would claim (tests/integration/notifications/
-- test_fast_slow_agreement.py drives both through the same cases).

-- The common claim in one statement: a pending order update with nothing to decide first
-- (promotions wait for quiet hours, an event with `expires` may be stale). Two workers
-- racing for the row: the second's UPDATE waits for the first's row lock, re-reads the
-- row, finds it 'sending' and matches nothing, so it takes the careful path, which
-- answers "busy". No row: take the careful path.
-- waited_s: on a row's first attempt, how long it waited from activation (intake, or a
-- fallback's activation) to this claim; promotions yield while it runs late
-- (notifications/lateness.py). NULL on a retry, whose wait was a planned backoff.
CREATE OR REPLACE FUNCTION notification_claim(p_id uuid, p_token uuid,
                                              p_lease_s double precision)
RETURNS TABLE (channel text, payload json, waited_s double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    UPDATE notifications n SET state = 'sending', claim_token = p_token,
           claimed_until = now() + make_interval(secs => p_lease_s),
           attempts = n.attempts + 1, activated_at = coalesce(n.activated_at, now()),
           updated_at = now()
    FROM order_events e
    WHERE n.id = p_id AND n.state = 'pending' AND n.event_type <> 'promotion'
      AND e.event_id = n.event_id AND e.payload->>'expires' IS NULL
    RETURNING n.channel, e.payload,
              CASE WHEN n.attempts = 1
                   THEN extract(epoch FROM clock_timestamp() - n.activated_at)::float8 END;
END;
$$;

-- A notification was accepted by its provider.
-- outcome: 'sent'; 'duplicate_send' when the row was already sent (our claim lapsed, the
-- row was re-claimed, and both sends were accepted); 'unknown' when there is no such row.
-- The attempt is recorded in every case but the last.
CREATE OR REPLACE FUNCTION notification_sent(
    p_id uuid, p_sent_at timestamptz, p_provider_message_id text, p_started_at timestamptz,
    p_latency_ms double precision, p_status_code integer, p_detail text, p_worker text)
RETURNS TABLE (outcome text, event_type text, deadline timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT n.state, n.event_id, n.channel, n.event_type, n.deadline INTO r
    FROM notifications n WHERE n.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'unknown'::text, NULL::text, NULL::timestamptz;
        RETURN;
    END IF;

    INSERT INTO attempts (kind, entity_id, started_at, latency_ms, status_code, outcome,
                          detail, worker)
    VALUES ('notification', p_id, p_started_at, p_latency_ms, p_status_code, 'sent',
            p_detail, p_worker);

    IF r.state = 'sent' THEN
        PERFORM outbox_complete(p_id);
        RETURN QUERY SELECT 'duplicate_send'::text, r.event_type, r.deadline;
        RETURN;
    END IF;

    UPDATE notifications n SET state = 'sent', sent_at = p_sent_at,
           provider_message_id = p_provider_message_id, claim_token = NULL,
           claimed_until = NULL, updated_at = now()
    WHERE n.id = p_id;
    UPDATE notifications n SET state = 'skipped', reason = 'sent_via_' || r.channel,
           updated_at = now()
    WHERE n.event_id = r.event_id AND n.state = 'standby';
    PERFORM outbox_complete(p_id);
    RETURN QUERY SELECT 'sent'::text, r.event_type, r.deadline;
END;
$$;

-- The "sent" outcome of a whole batch of promotions in one statement: the set form of
-- notification_sent, one round trip for a batch instead of one per message. Rows are
-- locked in id order (two batches never deadlock); the attempts are recorded, the rows
-- marked sent, their standby channels skipped and the outbox rows finished. A row found
-- already sent is reported 'duplicate_send' (our claim lapsed and another worker sent it
-- too); only its attempt and outbox row are written then. The CTEs touch disjoint rows
-- (the sent rows were 'sending', the skipped ones 'standby'). An unknown id gets no row.
CREATE OR REPLACE FUNCTION notifications_sent_batch(
    p_ids uuid[], p_sent_at timestamptz[], p_provider_ids text[], p_started_at timestamptz[],
    p_latency_ms double precision[], p_status integer[], p_detail text[], p_worker text)
RETURNS TABLE (id uuid, outcome text, channel text, event_type text, deadline timestamptz)
LANGUAGE sql AS $$
WITH input AS (
    SELECT * FROM unnest(p_ids, p_sent_at, p_provider_ids, p_started_at, p_latency_ms,
                         p_status, p_detail)
           AS s(id, sent_at, provider_id, started_at, latency_ms, status, detail)
), locked AS (
    SELECT n.id, n.state AS was, n.event_id, n.channel, n.event_type, n.deadline
    FROM notifications n WHERE n.id = ANY(p_ids) ORDER BY n.id FOR UPDATE
), attempt AS (
    INSERT INTO attempts (kind, entity_id, started_at, latency_ms, status_code, outcome,
                          detail, worker)
    SELECT 'notification', s.id, s.started_at, s.latency_ms, s.status, 'sent', s.detail,
           p_worker
    FROM input s JOIN locked r ON r.id = s.id
), marked AS (
    UPDATE notifications n SET state = 'sent', sent_at = s.sent_at,
           provider_message_id = s.provider_id, claim_token = NULL, claimed_until = NULL,
           updated_at = now()
    FROM input s JOIN locked r ON r.id = s.id
    WHERE n.id = s.id AND r.was <> 'sent'
), skipped AS (
    UPDATE notifications n SET state = 'skipped', reason = 'sent_via_' || r.channel,
           updated_at = now()
    FROM locked r
    WHERE r.was <> 'sent' AND n.event_id = r.event_id AND n.state = 'standby'
), finished AS (
    UPDATE outbox o SET done_at = now(), parked_reason = NULL
    WHERE o.entity_id = ANY(p_ids) AND o.done_at IS NULL
)
SELECT r.id, CASE WHEN r.was = 'sent' THEN 'duplicate_send' ELSE 'sent' END,
       r.channel, r.event_type, r.deadline
FROM locked r;
$$;
