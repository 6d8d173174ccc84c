"""relay: durable task queues for customer-email sync and order notifications.

`celery -A relay ...` loads `relay.app`. Importing relay does not read the environment;
the Celery configuration is loaded on first use.
"""

from relay.celery_app import app

__all__ = ["app"]
