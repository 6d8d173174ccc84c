-- Order events as producers sent them (validated), and the notifications they became.
-- payload holds the whole validated OrderEvent, contact details included: the send task
-- reads recipients from here, so no PII travels through Redis or logs.
CREATE TABLE order_events (
    event_id     text PRIMARY KEY,
    type         text NOT NULL,
    order_id     text,
    customer_id  text NOT NULL,
    brand        text NOT NULL,
    country      text NOT NULL,
    locale       text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    deadline     timestamptz NOT NULL,
    expires      timestamptz,
    payload      jsonb NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, occurred_at) WHERE order_id IS NOT NULL;

-- One row per (event, planned channel). State machine (see notifications/service.py):
--   standby -> pending -> sending -> sent
--                  ^         |-> pending (transient failure, retry)      -> ...
--                  |         '-> failed  (permanent / budget / deadline) -> next standby
--   suppressed: decided at intake or before sending, with reason; never sent
--   skipped:    a standby fallback that was not needed (an earlier channel was sent)
CREATE TABLE notifications (
    id                  uuid PRIMARY KEY,
    event_id            text NOT NULL REFERENCES order_events (event_id),
    channel             text NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'inapp')),
    rank                smallint NOT NULL,
    event_type          text NOT NULL,
    order_id            text,
    customer_id         text NOT NULL,
    brand               text NOT NULL,
    country             text NOT NULL,
    queue               text NOT NULL,
    state               text NOT NULL CHECK (state IN ('standby', 'pending', 'sending', 'sent',
                                                       'failed', 'suppressed', 'skipped')),
    reason              text,
    occurred_at         timestamptz NOT NULL,
    deadline            timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    activated_at        timestamptz,
    claim_token         uuid,
    claimed_until       timestamptz,
    attempts            integer NOT NULL DEFAULT 0,
    sent_at             timestamptz,
    provider_message_id text,
    last_error          text,
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT notifications_event_channel UNIQUE (event_id, channel),
    CONSTRAINT notifications_sent_has_time CHECK (state <> 'sent' OR sent_at IS NOT NULL)
);
CREATE INDEX notifications_order ON notifications (order_id) WHERE order_id IS NOT NULL;
-- the SLA check and `relay status` look at unfinished rows only
CREATE INDEX notifications_open ON notifications (deadline)
    WHERE state IN ('pending', 'sending', 'standby');
CREATE INDEX notifications_state ON notifications (state);

-- The in-app channel's inbox: what the customer sees in the app. One entry per
-- notification (a redelivered send finds the entry already there).
CREATE TABLE inbox (
    id              bigserial PRIMARY KEY,
    notification_id uuid NOT NULL UNIQUE,
    customer_id     text NOT NULL,
    brand           text NOT NULL,
    order_id        text,
    title           text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_at         timestamptz
);
CREATE INDEX inbox_customer ON inbox (customer_id, created_at);
