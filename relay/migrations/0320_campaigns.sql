-- Campaigns (notifications/campaigns/): a promotion sent to an audience, controlled as one
-- thing. The campaign row holds the state workers check at claim time (running / paused /
-- cancelled); each recipient is an ordinary promotion event with its notification rows,
-- tagged with the campaign so the rows can be counted, parked and cancelled together.
CREATE TABLE campaigns (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    subject         text NOT NULL,
    url             text NOT NULL,
    brand           text NOT NULL,
    expires         timestamptz,
    max_per_second  double precision CHECK (max_per_second IS NULL OR max_per_second > 0),
    state           text NOT NULL DEFAULT 'created'
                    CHECK (state IN ('created', 'running', 'paused', 'cancelled')),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at      timestamptz,
    cancelled_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

ALTER TABLE notifications ADD COLUMN campaign_id text REFERENCES campaigns (id);
CREATE INDEX notifications_campaign ON notifications (campaign_id, state)
    WHERE campaign_id IS NOT NULL;

-- The "sent" outcome of a whole batch of promotions in one statement: the set form of
-- notification_sent (0302), one round trip for a batch instead of one per message. Rows
-- are locked in id order (two batches never deadlock); the attempts are recorded, the
-- rows marked sent, their standby channels skipped and the outbox rows finished. A row
-- found already sent is reported 'duplicate_send' (our claim lapsed and another worker
-- sent it too); only its attempt and outbox row are written then. The CTEs touch
-- disjoint rows (the sent rows were 'sending', the skipped ones 'standby').
CREATE FUNCTION notifications_sent_batch(
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
