"""The OrderEvent as producers send it (docs/contracts/relay.md), validated before any write.

`parse_event(doc)` returns an `OrderEvent` or raises `InvalidInput` naming the field
(e.g. `customer.phone: must be E.164 like +34600000000`). Everything that can be checked
without the database is checked here: type, time zone, brand, country, locale, contact
formats, channel names, and that promotions carry a campaign and order events an order.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Literal

import pycountry
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from relay.errors import InvalidInput

E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")
LOCALE_RE = re.compile(r"^[a-z]{2}-[A-Z]{2}$")
Channel = Literal["email", "sms", "push", "inapp"]
CHANNELS: tuple[str, ...] = ("email", "sms", "push", "inapp")


class EventType(StrEnum):
    ORDER_CONFIRMED = "order_confirmed"
    PACKED = "packed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    PROMOTION = "promotion"
    DELAY_NOTICE = "delay_notice"  # sent by the SLA check; producers may send it too


# An order's stages in the order they happen: an event older than a later stage already
# recorded for the same order is stale ("superseded").
STAGES = {EventType.ORDER_CONFIRMED: 1, EventType.PACKED: 2, EventType.SHIPPED: 3,
          EventType.OUT_FOR_DELIVERY: 4, EventType.DELIVERED: 5}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the write
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class Customer(_Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    email: EmailStr | None = None
    phone: str | None = None
    push_token: str | None = Field(None, max_length=4096)
    channels: list[Channel] = Field(default_factory=list)
    marketing_opt_in: bool = False

    @field_validator("phone")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not E164_RE.match(v):
            raise ValueError("must be E.164 like +34600000000")
        return v

    @field_validator("push_token", mode="before")
    @classmethod
    def _blank_token(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("email", mode="before")
    @classmethod
    def _blank_email(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("channels")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))  # keep the customer's order, drop repeats


class Item(_Strict):
    sku: str | None = None
    name: str = Field(min_length=1, max_length=300)
    qty: int = Field(1, ge=1)


def _http_url(v: str | None) -> str | None:
    if v in (None, ""):
        return None
    if not re.match(r"^https?://[^\s/]+", v):
        raise ValueError("must be an http(s) URL")
    return v


class Order(_Strict):
    number: str = Field(min_length=1, max_length=100)
    items: list[Item] = Field(default_factory=list)
    carrier: str | None = Field(None, max_length=100)
    tracking_number: str | None = Field(None, max_length=100)
    tracking_url: str | None = Field(None, max_length=2000)
    eta: date | None = None

    @field_validator("tracking_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return _http_url(v)


class Campaign(_Strict):
    id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=300)
    subject: str = Field(min_length=1, max_length=300)
    url: str = Field(max_length=2000)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not _http_url(v):
            raise ValueError("must be an http(s) URL")
        return v


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def _brands() -> tuple[str, ...]:
    from relay.settings import get_settings

    return get_settings().brands


class OrderEvent(_Strict):
    event_id: str = Field(min_length=1, max_length=200)
    type: EventType
    order_id: str | None = Field(None, max_length=100)
    occurred_at: AwareDatetime
    brand: str
    country: str
    locale: str
    customer: Customer
    order: Order | None = None
    campaign: Campaign | None = None
    expires: AwareDatetime | None = None

    @field_validator("brand")
    @classmethod
    def _brand(cls, v: str) -> str:
        v = v.lower()
        if v not in _brands():
            raise ValueError(f"unknown brand; accepted: {', '.join(_brands())}")
        return v

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        v = v.upper()
        if v not in _countries():
            raise ValueError("must be an ISO 3166-1 alpha-2 country code like ES")
        return v

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str) -> str:
        v = v.replace("_", "-")
        if not LOCALE_RE.match(v) or pycountry.languages.get(alpha_2=v[:2]) is None:
            raise ValueError("must be a locale like es-ES")
        return v

    @model_validator(mode="after")
    def _order_id(self) -> OrderEvent:
        if not self.order_id and self.order is not None:
            object.__setattr__(self, "order_id", self.order.number)
        return self

    @property
    def is_promotion(self) -> bool:
        return self.type is EventType.PROMOTION

    def template_context(self) -> dict:
        return self.model_dump(mode="json")


def parse_event(doc: dict | OrderEvent, where: str | None = None) -> OrderEvent:
    """Validate one event; InvalidInput names the field (prefixed by `where`, e.g. line 3)."""
    if isinstance(doc, OrderEvent):
        return doc
    if not isinstance(doc, dict):
        raise InvalidInput(where or "event", "must be a JSON object")
    try:
        event = OrderEvent.model_validate(doc)
        _check_shape(event)
    except ValidationError as exc:
        error = InvalidInput.from_validation_error(exc)
    except InvalidInput as exc:
        error = exc
    else:
        return event
    if where:
        raise error.prefixed(where) from None
    raise error from None


def _check_shape(event: OrderEvent) -> None:
    if event.is_promotion:
        if event.campaign is None:
            raise InvalidInput("campaign", "promotion events need {id, name, subject, url}")
    elif event.order is None:
        raise InvalidInput("order", f"{event.type.value} events need an order")
