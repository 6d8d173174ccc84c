"""The producer's input and receipt: what `enqueue_email_change` accepts and returns.

Validation happens here, before anything is written: real email syntax (email-validator,
no DNS), ISO 3166-1 alpha-2 countries (pycountry), known brands, bounded lengths. The
wire body Homeria receives is a different model (`payload.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated

import pycountry
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from relay.errors import InvalidInput

MAX_EMAIL = 254
# Printable text without control characters (ids end up in logs and CLI tables).
_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"


def _normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None  # email-validator's messages never echo it


@cache
def _country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def _country(value: str) -> str:
    if value not in _country_codes():
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, e.g. ES")
    return value


Email = Annotated[str, Field(min_length=3, max_length=MAX_EMAIL),
                  AfterValidator(_normalise_email)]


class EmailChangeRequest(BaseModel):
    """One email change as support staff asked for it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    customer_id: str = Field(min_length=1, max_length=64, pattern=_NO_CONTROL)
    current_email: Email
    new_email: Email
    brand: str = Field(min_length=1, max_length=64)
    country: Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_country)]
    requested_by: str | None = Field(None, max_length=128, pattern=_NO_CONTROL)
    request_id: str | None = Field(None, min_length=1, max_length=128, pattern=_NO_CONTROL)

    @field_validator("brand", "country", "requested_by", "request_id", mode="before")
    @classmethod
    def _tidy(cls, value, info: ValidationInfo):
        if not isinstance(value, str):
            return value
        value = value.strip()
        if info.field_name in {"requested_by", "request_id"}:
            return value or None
        return value.upper() if info.field_name == "country" else value.lower()

    @field_validator("new_email")
    @classmethod
    def _differs(cls, value: str, info: ValidationInfo) -> str:
        current = info.data.get("current_email")
        if current is not None and current.casefold() == value.casefold():
            raise ValueError("must differ from current_email")
        return value

    @field_validator("brand")
    @classmethod
    def _known_brand(cls, value: str, info: ValidationInfo) -> str:
        brands = (info.context or {}).get("brands")
        if brands is None:
            from relay.settings import get_settings

            brands = get_settings().brands
        if value not in brands:
            raise ValueError(f"unknown brand; known: {', '.join(brands)}")
        return value

    def __repr_args__(self):  # keep emails out of reprs that end up in logs
        from relay.logs import mask_email

        for name, value in super().__repr_args__():
            yield name, mask_email(value) if name.endswith("_email") else value


def parse_request(data: dict, *, brands: tuple[str, ...] | None = None) -> EmailChangeRequest:
    """Validate producer input; raise InvalidInput naming the first bad field."""
    try:
        return EmailChangeRequest.model_validate(
            data, context={"brands": brands} if brands is not None else None)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc) from None


@dataclass(frozen=True)
class Receipt:
    """What the producer gets back. `change_id` is also Homeria's Idempotency-Key."""

    change_id: uuid.UUID
    request_id: str | None
    requested_at: datetime
    state: str
    duplicate: bool          # True: request_id seen before; this is the first receipt
    queued_behind: bool      # True: waits for an earlier change of the same customer

    def as_dict(self) -> dict:
        return {"change_id": str(self.change_id), "request_id": self.request_id,
                "requested_at": self.requested_at.isoformat(), "state": self.state,
                "duplicate": self.duplicate, "queued_behind": self.queued_behind}
