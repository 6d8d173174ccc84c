-- The outbox's two transitions that other SQL needs as well as Python: finishing work and
-- waking parked work. They live here, once, so a feature's own server-side function (the
-- email sync's hot path, the notifications' "sent") and relay/outbox.py cannot drift apart.

-- Work is finished: the sweep never publishes it again.
CREATE OR REPLACE FUNCTION outbox_complete(p_entity uuid) RETURNS void
LANGUAGE sql AS $$
    UPDATE outbox SET done_at = now(), parked_reason = NULL WHERE entity_id = p_entity;
$$;

-- Parked work is due now (optionally on another queue). Returns the task and queue to
-- publish once the caller's transaction commits; no row when the work is already done.
CREATE OR REPLACE FUNCTION outbox_wake(p_entity uuid, p_queue text DEFAULT NULL)
RETURNS TABLE (task text, queue text)
LANGUAGE sql AS $$
    UPDATE outbox SET next_attempt_at = now(), published_at = now(),
           publish_count = publish_count + 1, parked_reason = NULL,
           queue = coalesce(p_queue, outbox.queue)
    WHERE entity_id = p_entity AND done_at IS NULL
    RETURNING outbox.task, outbox.queue;
$$;
