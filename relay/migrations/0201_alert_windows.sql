-- On-call alert rate limiting, shared by every worker process. One row per alert key: the
-- current window, and what was suppressed inside it (counted by label) so that a storm
-- ends as one summary post instead of thousands. Rows are locked (FOR UPDATE) to decide.
CREATE TABLE alert_windows (
    key                text PRIMARY KEY,
    title              text,
    noun               text NOT NULL DEFAULT 'alerts',
    window_started_at  timestamptz NOT NULL,
    window_ends_at     timestamptz NOT NULL,
    suppressed         integer NOT NULL DEFAULT 0,
    suppressed_by      jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_sent_at       timestamptz
);
CREATE INDEX alert_windows_due ON alert_windows (window_ends_at) WHERE suppressed > 0;
