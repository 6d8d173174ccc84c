"""The campaign document (`relay campaign create FILE`) and the audience
(`relay campaign start ID --audience FILE`, JSON Lines), validated before anything is
written; errors name the line and the field (`line 7: email: value is not a valid …`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field, ValidationError, field_validator

from notifications.models import Campaign, Customer, OrderEvent, _Strict, parse_event
from relay.errors import InvalidInput


class CampaignSpec(Campaign):
    """`Campaign` (id, name, subject, url) plus the brand, an optional expiry (after it no
    recipient is sent anything) and an optional rate limit."""

    brand: str
    expires: AwareDatetime | None = None
    max_per_second: float | None = Field(None, gt=0, le=100_000)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if ":" in v or any(c.isspace() for c in v):
            raise ValueError("must not contain ':' or spaces")
        return v

    @field_validator("brand")
    @classmethod
    def _brand(cls, v: str) -> str:
        from notifications.models import _brands

        v = v.lower()
        if v not in _brands():
            raise ValueError(f"unknown brand; accepted: {', '.join(_brands())}")
        return v


def parse_spec(doc: object) -> CampaignSpec:
    if not isinstance(doc, dict):
        raise InvalidInput("campaign", "must be a JSON object")
    try:
        return CampaignSpec.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc) from None


class _Line(_Strict):
    """What an audience line must carry besides the customer's own fields."""

    country: str
    locale: str


# An audience file is written by hand or by an export, and a misspelt key would be dropped
# silently (`marketing_optin` → not opted in → suppressed, with nothing to say why): so a
# line may carry only what a recipient is made of, though events keep ignoring extras.
_LINE_FIELDS = frozenset(Customer.model_fields) | frozenset(_Line.model_fields)


def _unknown_fields(doc: dict, where: str) -> None:
    unknown = sorted(k for k in doc if k not in _LINE_FIELDS)
    if unknown:
        raise InvalidInput(f"{where}: {unknown[0]}",
                           f"unknown field{'s' if len(unknown) > 1 else ''} "
                           f"{', '.join(map(repr, unknown))}; a line carries "
                           f"{', '.join(sorted(_LINE_FIELDS))}")


def event_id(campaign_id: str, customer_id: str) -> str:
    return f"campaign:{campaign_id}:{customer_id}"


def recipient_event(spec: CampaignSpec, doc: object, occurred_at: datetime,
                    where: str) -> OrderEvent:
    """One audience line → the promotion event for that customer. The line is the
    OrderEvent `customer` shape plus `country` and `locale`; errors name its own fields."""
    if not isinstance(doc, dict):
        raise InvalidInput(where, "must be a JSON object")
    _unknown_fields(doc, where)
    try:
        _Line.model_validate(doc)
    except ValidationError as exc:
        error = InvalidInput.from_validation_error(exc)
        raise InvalidInput(f"{where}: {error.field}", error.message) from None
    customer = {k: v for k, v in doc.items() if k not in ("country", "locale")}
    event = {"event_id": event_id(spec.id, str(customer.get("customer_id", ""))),
             "type": "promotion", "occurred_at": occurred_at.isoformat(),
             "brand": spec.brand, "country": doc["country"], "locale": doc["locale"],
             "customer": customer, "expires": spec.expires.isoformat() if spec.expires else None,
             "campaign": {"id": spec.id, "name": spec.name, "subject": spec.subject,
                          "url": spec.url}}
    try:
        return parse_event(event)
    except InvalidInput as exc:
        field = exc.field.removeprefix("customer.")
        raise InvalidInput(f"{where}: {field}", exc.message) from None
