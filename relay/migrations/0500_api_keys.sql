-- HTTP API keys (relay serve). Only the SHA-256 of a key is stored: keys are 32 random
-- bytes (secrets.token_urlsafe), so a fast unsalted hash is as strong as a slow one here
-- and costs microseconds per request. `last_used_at` is refreshed at most once a minute
-- per API process, not on every request.
CREATE TABLE api_keys (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    scope         text NOT NULL CHECK (scope IN ('produce', 'read', 'operate')),
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- What each `produce` key submitted, so it may read it back (and nothing else).
-- kind: 'email_change' (ref = change id) or 'order' (ref = order id).
CREATE TABLE api_submissions (
    key_name    text NOT NULL,
    kind        text NOT NULL,
    ref         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, ref, key_name)
);
