"""What a caller may see: emails and phone numbers are masked for `read` and `operate`
keys (the same masks as the logs, relay.logs); a `produce` key sees what it submitted as
it submitted it."""

from __future__ import annotations

from typing import Any

from relay.apikeys import Principal
from relay.logs import mask_email, mask_phone, scrub_value

__all__ = ["for_principal", "mask_email", "mask_phone"]


def for_principal(doc: Any, principal: Principal) -> Any:
    """`doc` as `principal` may see it: every email and phone inside masked unless the
    key is a `produce` key (which only ever reads its own submissions)."""
    return doc if principal.scope == "produce" else scrub_value(doc)
