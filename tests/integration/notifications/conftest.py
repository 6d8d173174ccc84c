"""Real stand-ins (SMTP sink, SMS, push) on loopback, and the service's channel registry
pointed at them (tests/support/notifications.py)."""

from tests.support.notifications import standins, wired  # noqa: F401 - fixtures
