-- The stall watchdog's view of each broker queue (relay/watchdog.py), written by beat on a
-- timer and read by `relay status`. Kept in PostgreSQL, not Redis: it must outlive a Redis
-- restart, and it says when each queue last had a live consumer across watchdog restarts.
CREATE TABLE queue_watch (
    queue             text PRIMARY KEY,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    checked_at        timestamptz NOT NULL DEFAULT now(),
    consumers         integer,              -- NULL: the broker could not be asked
    last_consumer_at  timestamptz,
    oldest_due_wait_s double precision,     -- the oldest due, unfinished outbox row's wait
    stalled_since     timestamptz,          -- NULL while the queue is healthy
    reason            text,
    alerted_at        timestamptz           -- on-call told about this stall
);
