-- The outbox: one row per unit of work, committed with the work itself. The task message
-- carries only entity_id; this row says whether the work is done, when it may run next,
-- and when it was last handed to the broker (the lease the sweep checks).
CREATE TABLE outbox (
    entity_id       uuid PRIMARY KEY,
    kind            text NOT NULL,
    task            text NOT NULL,
    queue           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    publish_count   integer NOT NULL DEFAULT 0,
    parked_reason   text,
    done_at         timestamptz
);
-- The sweep and `relay status` only ever look at unfinished rows: keep that index small.
CREATE INDEX outbox_pending_due ON outbox (next_attempt_at) WHERE done_at IS NULL;
CREATE INDEX outbox_pending_kind ON outbox (kind) WHERE done_at IS NULL;

-- Every attempt at external work, for any kind: the history on-call reads.
CREATE TABLE attempts (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    entity_id    uuid NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    latency_ms   double precision,
    status_code  integer,
    outcome      text NOT NULL,
    detail       text,
    worker       text
);
CREATE INDEX attempts_entity ON attempts (entity_id, started_at);

-- Dead letters, shared by every task kind. One row per entity that gave up; replay and
-- discard are recorded on the row (and in dead_letter_events), never deleted.
CREATE TABLE dead_letters (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL,
    entity_id        uuid NOT NULL,
    reason           text NOT NULL,
    status_code      integer,
    error            text,
    response_excerpt text,
    attempts         integer NOT NULL DEFAULT 0,
    brand            text,
    country          text,
    first_failed_at  timestamptz NOT NULL DEFAULT now(),
    last_failed_at   timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    state            text NOT NULL DEFAULT 'open'
                     CHECK (state IN ('open', 'replayed', 'discarded')),
    resolved_at      timestamptz,
    resolved_by      text,
    resolution_note  text,
    replay_count     integer NOT NULL DEFAULT 0
);
-- At most one open dead letter per entity: dead-lettering twice (a redelivered message)
-- updates the open row instead of adding another.
CREATE UNIQUE INDEX dead_letters_open_entity ON dead_letters (kind, entity_id) WHERE state = 'open';
CREATE INDEX dead_letters_state_created ON dead_letters (state, created_at);

-- Small key/value facts the runtime keeps: heartbeats of scheduled jobs.
CREATE TABLE heartbeats (
    name     text PRIMARY KEY,
    beat_at  timestamptz NOT NULL DEFAULT now(),
    detail   jsonb
);
