"""How long finished work keeps what it holds: dead letters, personal data."""

from __future__ import annotations

from relay.settings.group import BLANK_DEFAULT, Group, setting


class RetentionSettings(Group):
    dead_letter_retention_days: float = setting(
        30.0, "DEAD_LETTER_RETENTION_DAYS", "resolved dead letters are purged after this"
        " (the audit trail stays)", gt=0, allow_inf_nan=False, blank=BLANK_DEFAULT)
    pii_retention_days: float = setting(
        30.0, "PII_RETENTION_DAYS", "personal data is blanked from finished rows this many"
        " days after they finished", gt=0, le=3650, allow_inf_nan=False)
    # Were constants in code (relay/deadletters/resolve.py, relay/privacy/retention.py):
    # rows per transaction, so a first purge of a large backlog never holds long locks.
    dead_letter_purge_batch: int = setting(
        1000, "DEAD_LETTER_PURGE_BATCH", "dead letters purged per transaction", ge=1,
        le=100_000, blank=BLANK_DEFAULT)
    pii_retention_batch: int = setting(
        1000, "PII_RETENTION_BATCH", "finished rows blanked per transaction", ge=1,
        le=100_000, blank=BLANK_DEFAULT)
