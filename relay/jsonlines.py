"""JSON Lines input, as `relay enqueue order-event`, `relay campaign start --audience` and the
API's `application/x-ndjson` bodies read it: one document per line, blank lines skipped,
each named by its line number ("line 7") so later errors can say where they are.

Every line that is not JSON is reported at once (up to MAX_BAD_LINES), not only the first:
one fix-and-retry, not one per line.
"""

from __future__ import annotations

import json

from relay.errors import InvalidInput

MAX_BAD_LINES = 1_000


def parse_lines(text: str, *, what: str = "input",
                items: str = "lines") -> list[tuple[str, object]]:
    """[("line N", document)]; InvalidInput naming every bad line, or `what` if none."""
    docs: list[tuple[str, object]] = []
    bad: list[InvalidInput] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            docs.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            if len(bad) < MAX_BAD_LINES:
                bad.append(InvalidInput(f"line {number}", f"not valid JSON: {exc.msg}"))
    if bad:
        raise InvalidInput.combine(bad)
    if not docs:
        raise InvalidInput(what, f"no {items} in the {what}")
    return docs

