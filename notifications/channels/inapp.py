"""In-app messages: an entry in the customer's inbox table in PostgreSQL.

The "provider" is our own database, written on its own short connection exactly where the
other channels make their HTTP/SMTP call — outside the claim transaction — so the send
path is the same for all four. The inbox is unique per notification: a redelivered send
finds its entry and reports the same id instead of adding a second one.
"""

from __future__ import annotations

import psycopg
from pydantic import Field

from notifications.channels.base import TransientChannelError
from notifications.payloads import Accepted, _Payload
from relay.db import connection

CHANNEL = "inapp"


class InAppMessage(_Payload):
    customer_id: str = Field(min_length=1)
    brand: str
    order_id: str | None = None
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=2000)


_INSERT = """
INSERT INTO inbox (notification_id, customer_id, brand, order_id, title, body)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (notification_id) DO UPDATE SET notification_id = EXCLUDED.notification_id
RETURNING id
"""


class InAppChannel:
    name = CHANNEL

    def send(self, message: InAppMessage) -> Accepted:
        try:
            with connection() as conn:
                row = conn.execute(_INSERT, (
                    message.notification_id, message.customer_id, message.brand,
                    message.order_id, message.title, message.body)).fetchone()
                conn.commit()
        except psycopg.OperationalError as exc:
            raise TransientChannelError(CHANNEL, "database_unavailable",
                                        type(exc).__name__) from None
        return Accepted(channel=CHANNEL, provider_message_id=f"inbox:{row['id']}")

    def close(self) -> None:
        """Connections belong to relay.db's pool."""


def inbox_for_order(conn, order_id: str) -> list[dict]:
    return conn.execute(
        """SELECT id, notification_id, customer_id, title, body, created_at, read_at
           FROM inbox WHERE order_id = %s ORDER BY created_at, id""", (order_id,),
    ).fetchall()
