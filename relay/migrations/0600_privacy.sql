-- Personal data kept right (issue 19): retention and erasure (relay/privacy/).
--
-- Retention and erasure blank the personal columns of finished rows and stamp
-- redacted_at; they never delete the rows, so counts, times, outcomes, brand and country
-- stay for `relay sla report`, the rollups and `relay status`. The columns that held
-- personal data may therefore be NULL once redacted.
ALTER TABLE email_changes ALTER COLUMN current_email DROP NOT NULL;
ALTER TABLE email_changes ALTER COLUMN new_email DROP NOT NULL;
ALTER TABLE email_changes ADD COLUMN redacted_at timestamptz;

-- The event's payload (contact details, order contents) becomes a skeleton without them.
ALTER TABLE order_events ADD COLUMN redacted_at timestamptz;

-- The in-app inbox holds rendered message bodies.
ALTER TABLE inbox ALTER COLUMN title DROP NOT NULL;
ALTER TABLE inbox ALTER COLUMN body DROP NOT NULL;
ALTER TABLE inbox ADD COLUMN redacted_at timestamptz;

-- Provider response excerpts and error texts.
ALTER TABLE dead_letters ADD COLUMN redacted_at timestamptz;

-- The retention job walks finished rows not yet redacted, oldest first: these partial
-- indexes hold only those rows, so each run costs what is new, not the table.
CREATE INDEX email_changes_unredacted ON email_changes (finished_at)
    WHERE redacted_at IS NULL AND finished_at IS NOT NULL;
CREATE INDEX order_events_unredacted ON order_events (received_at) WHERE redacted_at IS NULL;
CREATE INDEX inbox_unredacted ON inbox (created_at) WHERE redacted_at IS NULL;
CREATE INDEX attempts_with_detail ON attempts (started_at) WHERE detail IS NOT NULL;
CREATE INDEX notifications_with_error ON notifications (updated_at) WHERE last_error IS NOT NULL;
CREATE INDEX dead_letters_unredacted ON dead_letters (resolved_at)
    WHERE redacted_at IS NULL AND state <> 'open';

-- The audit trail of erasures: who, when, why and how much, never whose data. `subject`
-- is a SHA-256 digest of brand|country|customer_id, so "was this customer erased?" can be
-- answered by someone who already knows the customer, and by nobody else.
CREATE TABLE privacy_erasures (
    id          bigserial PRIMARY KEY,
    "at"        timestamptz NOT NULL DEFAULT now(),
    "by"        text NOT NULL,
    why         text,
    subject     text NOT NULL,
    pseudonym   text NOT NULL,
    erased      jsonb NOT NULL,
    kept_open   integer NOT NULL DEFAULT 0
);
CREATE INDEX privacy_erasures_subject ON privacy_erasures (subject, "at");
