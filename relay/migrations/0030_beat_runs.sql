-- Beat with no single point of failure (relay/beatlease.py): when each scheduled entry
-- last ran, written by the beat holding the leader lock before it sends the task, so a
-- beat that takes over continues the schedule instead of starting its own clock (no job
-- runs twice in one period).
CREATE TABLE beat_runs (
    name         text PRIMARY KEY,
    last_run_at  timestamptz NOT NULL,
    leader       text NOT NULL,          -- application_name of the beat that sent it
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
