-- Canaries: probes sent through the full path (PostgreSQL -> outbox -> Redis -> worker ->
-- PostgreSQL) by `relay canary`, to prove the pipeline is alive on each queue.
CREATE TABLE canaries (
    id          uuid PRIMARY KEY,
    queue       text NOT NULL,
    note        text,
    work_ms     integer NOT NULL DEFAULT 0,
    fail        boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    runs        integer NOT NULL DEFAULT 0,   -- every delivery, duplicates included
    effects     integer NOT NULL DEFAULT 0,   -- deliveries that did the work (must be 1)
    done_at     timestamptz
);
