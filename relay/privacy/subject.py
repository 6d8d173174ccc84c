"""The customer a privacy request is about: (customer_id, brand, country), validated."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache

import pycountry

from relay.errors import InvalidInput

_NO_CONTROL = re.compile(r"^[^\x00-\x1f\x7f]+$")


@cache
def _countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@dataclass(frozen=True)
class Subject:
    customer_id: str
    brand: str
    country: str

    @classmethod
    def parse(cls, customer_id: str, brand: str, country: str) -> Subject:
        """InvalidInput naming the field; brand and country are normalised as producers do."""
        from relay.settings import get_settings

        customer_id = (customer_id or "").strip()
        if not customer_id or len(customer_id) > 100 or not _NO_CONTROL.match(customer_id):
            raise InvalidInput("customer_id", "must be 1-100 printable characters")
        brand = (brand or "").strip().lower()
        if brand not in get_settings().brands:
            raise InvalidInput("brand", f"unknown brand; known: "
                                        f"{', '.join(get_settings().brands)}")
        country = (country or "").strip().upper()
        if country not in _countries():
            raise InvalidInput("country", "must be an ISO 3166-1 alpha-2 country code, e.g. ES")
        return cls(customer_id, brand, country)

    @property
    def key(self) -> dict:
        return {"customer_id": self.customer_id, "brand": self.brand, "country": self.country}

    @property
    def digest(self) -> str:
        """What the audit keeps instead of the customer's id."""
        raw = f"{self.brand}|{self.country}|{self.customer_id}".encode()
        return hashlib.sha256(raw).hexdigest()
