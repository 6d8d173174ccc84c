-- The audit trail of on-call work on dead letters: who replayed, discarded or purged what,
-- when and why. No foreign key on purpose: a retention purge deletes the dead letter but
-- its history (and the purge itself) stays readable.
CREATE TABLE dead_letter_events (
    id              bigserial PRIMARY KEY,
    dead_letter_id  bigint NOT NULL,
    action          text NOT NULL
                    CHECK (action IN ('replayed', 'discarded', 'retention_purged')),
    "at"            timestamptz NOT NULL DEFAULT now(),
    "by"            text NOT NULL,
    note            text
);
CREATE INDEX dead_letter_events_dead_letter ON dead_letter_events (dead_letter_id, "at");

-- The retention purge only ever looks at resolved rows, oldest first.
CREATE INDEX dead_letters_resolved ON dead_letters (resolved_at) WHERE state <> 'open';
-- `relay dlq list --task K --reason R` and the status section read open rows by kind.
CREATE INDEX dead_letters_open_kind_reason ON dead_letters (kind, reason, created_at)
    WHERE state = 'open';
