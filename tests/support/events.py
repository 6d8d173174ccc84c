"""Order-event documents as producers send them, and edits of their nested fields."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

SHIPPED = {
    "event_id": "oms-1", "type": "shipped", "order_id": "SO-1",
    "occurred_at": "2026-11-23T09:12:00Z", "brand": "acme", "country": "es", "locale": "es-ES",
    "customer": {"customer_id": "C-1", "email": "ana@example.com", "phone": "+34600000000",
                 "push_token": None, "channels": ["email", "sms", "email"],
                 "marketing_opt_in": False},
    "order": {"number": "SO-1", "items": [{"sku": "X1", "name": "Lamp", "qty": 1}],
              "carrier": "UPS", "tracking_number": "1Z9", "tracking_url": "https://t.example/1Z9",
              "eta": "2026-11-25"},
}
PROMO = {
    "event_id": "promo-1", "type": "promotion", "occurred_at": "2026-11-23T09:12:00+01:00",
    "brand": "globex", "country": "PT", "locale": "pt-PT",
    "customer": {"customer_id": "C-2", "email": "bo@example.com", "channels": ["email"],
                 "marketing_opt_in": True},
    "campaign": {"id": "bf", "name": "Black Friday", "subject": "40% off",
                 "url": "https://shop.example/bf"},
}


def with_change(doc: dict, path: str, value, sep: str = ".") -> dict:
    """A copy of doc with the field at `path` ("customer.phone") set to value, or removed
    when value is `...`."""
    doc = copy.deepcopy(doc)
    *parents, leaf = path.split(sep)
    target = doc
    for key in parents:
        target = target[key]
    if value is ...:
        del target[leaf]
    else:
        target[leaf] = value
    return doc


def event(kind: str = "shipped", **changes) -> dict:
    """A fresh, valid event of `kind` (new ids, occurred now); `customer__phone=None` style
    keys change nested fields."""
    order_id = f"SO-{uuid.uuid4().hex[:8]}"
    doc = {
        "event_id": f"oms-{uuid.uuid4().hex[:12]}", "type": kind, "order_id": order_id,
        "occurred_at": datetime.now(UTC).isoformat(), "brand": "acme", "country": "ES",
        "locale": "es-ES",
        "customer": {"customer_id": "C-1001", "email": "ana@example.com",
                     "phone": "+34600000000", "push_token": "tok-ana",
                     "channels": ["email", "sms"], "marketing_opt_in": False},
        "order": {"number": order_id, "items": [{"sku": "X1", "name": "Lamp", "qty": 1}],
                  "carrier": "UPS", "tracking_number": "1Z999",
                  "tracking_url": f"https://track.example/{order_id}", "eta": "2026-11-25"},
    }
    if kind == "promotion":
        del doc["order"], doc["order_id"]
        doc["customer"]["marketing_opt_in"] = True
        doc["campaign"] = {"id": "bf-2026", "name": "Black Friday", "subject": "40% off lamps",
                           "url": "https://shop.example/bf"}
    for key, value in changes.items():
        doc = with_change(doc, key, value, sep="__")
    return doc
