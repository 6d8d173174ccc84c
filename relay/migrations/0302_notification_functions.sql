-- A notification's "sent" outcome, server-side.
--
-- Why a function: "sent" is the common outcome, and recording it takes five statements
-- (lock the row, record the attempt, mark it sent, skip the event's standby channels,
-- finish the outbox row) inside BEGIN/COMMIT. Sent one by one they cost the worker more
-- CPU than the provider call; as one function they are one statement and one round trip.
-- Each statement inside still takes its own snapshot (READ COMMITTED, VOLATILE), and the
-- row lock is taken first, as when Python sent them.
--
-- outcome: 'sent'; 'duplicate_send' when the row was already sent (our claim lapsed, the
-- row was re-claimed, and both sends were accepted); 'unknown' when there is no such row.
-- The attempt is recorded in every case but the last.
CREATE FUNCTION notification_sent(
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
