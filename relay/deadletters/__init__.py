"""Dead letters: work that gave up, kept for on-call to see, replay or discard.

Shared by every task kind. The store API other packages call:

    from relay import deadletters
    deadletters.record(tx, kind="email_change", entity_id=change_id,
                       reason="customer_not_found", status_code=404, error=..., attempts=3)
    deadletters.register_replayer("email_change", fn)   # fn(tx, entity_id) -> None

On-call (and `relay dlq`) use `find` (alias `list`), `show`, `stats`, `replay`, `discard`
and `purge`; the beat runs `purge_expired()`. Importing this package registers the
`dead_letters` section of `relay status`.
"""

from relay.bootstrap import config_check
from relay.deadletters.filters import STATES, Filters, parse_duration
from relay.deadletters.outcomes import register_states
from relay.deadletters.resolve import (
    Result,
    discard,
    purge,
    purge_expired,
    register_replayer,
    replay,
    replayer_for,
    retention,
    summary,
)
from relay.deadletters.store import find, ids_matching, record, show, stats, status_section
from relay.status import register_section

list = find  # the store API names it `list`; inside relay call `find`

register_section("dead_letters", status_section)
config_check(retention)

__all__ = [
    "STATES", "Filters", "Result", "discard", "find", "ids_matching", "list",
    "parse_duration", "purge", "purge_expired", "record", "register_replayer",
    "register_states", "replay",
    "replayer_for", "retention", "show", "stats", "status_section", "summary",
]
