"""An event made into one channel's message: the brand's and locale's templates
(rendering.py) filled in, and the signed one-click unsubscribe link of promotions."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from notifications import policy
from notifications.channels.inapp import InAppMessage
from notifications.models import OrderEvent
from notifications.payloads import EmailMessage, PushMessage, SmsMessage
from notifications.rendering import render


def unsubscribe_link(event: OrderEvent) -> str:
    """RFC 8058 one-click URL naming brand, customer and campaign, signed (HMAC-SHA256)."""
    customer, campaign = event.customer.customer_id, event.campaign.id if event.campaign else ""
    token = hmac.new(policy.unsubscribe_secret(),
                     f"{event.brand}:{customer}:{campaign}".encode(), hashlib.sha256)
    query = urlencode({"b": event.brand, "u": customer, "c": campaign,
                       "t": token.hexdigest()[:32]})
    return f"{policy.unsubscribe_url()}?{query}"


def compose(channel: str, notification_id: str, event: OrderEvent):
    """Render the event for `channel` (brand + locale templates) into the channel payload."""
    context = event.template_context()
    unsubscribe = unsubscribe_link(event) if event.is_promotion else None
    context["unsubscribe_url"] = unsubscribe
    text = render(event.type.value, channel, context, event.brand, event.locale)
    customer = event.customer
    if channel == "email":
        return EmailMessage(notification_id=notification_id, to=customer.email or "",
                            subject=text.subject or "", text=text.body, html=text.html or "",
                            promotion=event.is_promotion, unsubscribe_url=unsubscribe)
    if channel == "sms":
        return SmsMessage(notification_id=notification_id, to=customer.phone or "",
                          body=text.body)
    if channel == "push":
        data = {"event_type": event.type.value, "event_id": event.event_id}
        if event.order_id:
            data["order_id"] = event.order_id
        return PushMessage(notification_id=notification_id, token=customer.push_token or "",
                           title=text.title or "", body=text.body, data=data)
    return InAppMessage(notification_id=notification_id, customer_id=customer.customer_id,
                        brand=event.brand, order_id=event.order_id, title=text.title or "",
                        body=text.body)
