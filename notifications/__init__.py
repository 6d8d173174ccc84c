"""Order notifications: events in, email / SMS / push / in-app out.

    from notifications import record_order_event, record_order_events
"""

from notifications.producer import Intake, Notification, record_order_event, record_order_events

__all__ = ["Intake", "Notification", "record_order_event", "record_order_events"]
