"""The body relay sends to `POST /v1/customer-email-changes` (docs/contracts/homeria.md).

This is the wire model, not the producer's input model (that is `sync_worker/models.py`):
it fixes the field set and a deterministic serialization, so a retried change produces the
same bytes and Homeria's "same key + same body" idempotency rule holds.

The Idempotency-Key is derived from the record, never random: `delivery_key(change_id,
delivery)`. Generation 0 (every change's first delivery, and its retries) uses the change's
id, as the receipt promises; the dead-letter replayer moves a change to the next
generation only when Homeria has kept a permanent answer under the current key
(docs/contracts/homeria.md, Idempotency), and generation n > 0 uses uuid5(change_id, "n").
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from relay.logs import mask_email

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=EMAIL_PATTERN)]
Brand = Annotated[str, BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
                  StringConstraints(min_length=1, max_length=64)]
Country = Annotated[str, BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
                    StringConstraints(pattern=r"^[A-Z]{2}$")]


def delivery_key(change_id: UUID, delivery: int) -> UUID:
    """The Idempotency-Key of a change's `delivery`-th generation (see the module doc)."""
    return change_id if delivery == 0 else uuid.uuid5(change_id, str(delivery))


class EmailChangePayload(BaseModel):
    """One email change as Homeria receives it, and the generation it is delivered in
    (not on the wire: it only picks the Idempotency-Key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    change_id: UUID
    current_email: Email
    new_email: Email
    brand: Brand
    country: Country
    requested_at: AwareDatetime
    delivery: int = Field(0, ge=0)

    @property
    def idempotency_key(self) -> UUID:
        return delivery_key(self.change_id, self.delivery)

    def to_wire(self) -> dict[str, str]:
        requested = self.requested_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return {
            "change_id": str(self.change_id),
            "current_email": self.current_email,
            "new_email": self.new_email,
            "brand": self.brand,
            "country": self.country,
            "requested_at": requested,
        }

    def to_json_bytes(self) -> bytes:
        """Compact UTF-8 JSON, fixed key order: the bytes that are signed and sent."""
        return json.dumps(self.to_wire(), separators=(",", ":"), ensure_ascii=False).encode()

    def __repr_args__(self) -> Any:  # keep emails out of reprs that end up in logs
        for name, value in super().__repr_args__():
            yield name, mask_email(value) if name in {"current_email", "new_email"} else value
