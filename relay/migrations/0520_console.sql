-- The operations console (relay/console). Sessions live server-side: the cookie holds a
-- random token, only its SHA-256 is stored here, and the API key itself is never in the
-- cookie. Joining api_keys on every request means revoking a key ends its sessions at once.
CREATE TABLE console_sessions (
    token_hash  bytea PRIMARY KEY,
    key_name    text NOT NULL REFERENCES api_keys (name),
    csrf        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Look-ups and trends the console reads (scripts/bench console measures them at volume):
-- email changes by customer (support on the phone), by request time (changes per minute,
-- enqueue->Homeria latency per hour or day), and attempts by kind and time (error rate).
-- IF NOT EXISTS: on a big table, build them beforehand with CREATE INDEX CONCURRENTLY
-- under these names (README: Upgrading) and this migration takes no write lock.
CREATE INDEX IF NOT EXISTS email_changes_customer ON email_changes (customer_id, requested_at);
CREATE INDEX IF NOT EXISTS email_changes_requested_at ON email_changes (requested_at);
CREATE INDEX IF NOT EXISTS attempts_kind_started ON attempts (kind, started_at);
CREATE INDEX IF NOT EXISTS dead_letters_created ON dead_letters (created_at);
