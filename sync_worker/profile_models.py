"""A profile change as support staff ask for it (`enqueue_profile_change`), validated
before anything is written, and the body Homeria receives
(`POST /v1/customer-profile-changes`, docs/contracts/homeria.md).

`changes` holds one or more of phone (E.164, checked with Google's libphonenumber through
`phonenumbers`: a number must be valid for its region, not merely digit-shaped),
first_name, last_name (1-100 characters) and address. A field set to None is cleared at
Homeria; a field left out is left alone, which is why `fields()` keeps only what was set.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from relay.errors import InvalidInput
from sync_worker.models import Email, EmailChangeRequest, _country

PROFILE_FIELDS = ("phone", "first_name", "last_name", "address")
_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"


def e164(value: str) -> str:
    """A phone number in E.164 (+34600000000), valid for its country; ValueError if not."""
    if not value.startswith("+"):
        raise ValueError("must be E.164 with the country code, like +34600000000")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be E.164 with the country code, like +34600000000") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


Name = Annotated[str, Field(min_length=1, max_length=100, pattern=_NO_CONTROL)]


class Address(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    line1: str = Field(min_length=1, max_length=200, pattern=_NO_CONTROL)
    line2: str | None = Field(None, max_length=200, pattern=_NO_CONTROL)
    city: str = Field(min_length=1, max_length=100, pattern=_NO_CONTROL)
    postal_code: str = Field(min_length=1, max_length=20, pattern=_NO_CONTROL)
    country: Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_country)]

    @field_validator("country", mode="before")
    @classmethod
    def _upper(cls, value):
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("line2", mode="before")
    @classmethod
    def _blank(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


class ProfileFields(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    phone: Annotated[str, AfterValidator(e164)] | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    address: Address | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ProfileFields:
        if not self.model_fields_set:
            raise ValueError(f"must set at least one of {', '.join(PROFILE_FIELDS)}")
        return self

    def fields(self) -> dict[str, Any]:
        """Only the fields the caller set (None = clear), in wire form."""
        return {name: self.model_dump(mode="json")[name]
                for name in PROFILE_FIELDS if name in self.model_fields_set}


class ProfileChangeRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    customer_id: str = Field(min_length=1, max_length=64, pattern=_NO_CONTROL)
    email: Email
    brand: str = Field(min_length=1, max_length=64)
    country: Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_country)]
    changes: ProfileFields
    requested_by: str | None = Field(None, max_length=128, pattern=_NO_CONTROL)
    request_id: str | None = Field(None, min_length=1, max_length=128, pattern=_NO_CONTROL)

    @field_validator("brand", "country", "requested_by", "request_id", mode="before")
    @classmethod
    def _tidy(cls, value, info: ValidationInfo):
        return EmailChangeRequest._tidy(value, info)   # as for email changes

    @field_validator("brand")
    @classmethod
    def _known_brand(cls, value: str, info: ValidationInfo) -> str:
        return EmailChangeRequest._known_brand(value, info)

    def __repr_args__(self):  # no personal data in reprs that end up in logs
        for name, value in super().__repr_args__():
            yield name, "***" if name in {"email", "changes"} else value


def parse_profile_request(data: dict, *, brands: tuple[str, ...] | None = None
                          ) -> ProfileChangeRequest:
    """Validate producer input; InvalidInput names the first bad field (never its value)."""
    try:
        return ProfileChangeRequest.model_validate(
            data, context={"brands": brands} if brands is not None else None)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc) from None


def merge(changes: list[dict]) -> dict:
    """Waiting changes merged field by field, oldest first: the latest value of each field
    wins (a clear included); fields nobody touched stay out."""
    merged: dict = {}
    for doc in changes:
        merged.update(doc)
    return merged


def wire_body(change_id: UUID, email: str, brand: str, country: str,
              requested_at: datetime, changes: dict) -> bytes:
    """Compact UTF-8 JSON, fixed key order: the bytes that are signed and sent (a retry
    of a frozen change produces the same bytes)."""
    requested = requested_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    doc = {"change_id": str(change_id), "email": email, "brand": brand, "country": country,
           "requested_at": requested,
           "changes": {k: changes[k] for k in PROFILE_FIELDS if k in changes}}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
