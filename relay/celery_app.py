"""The one Celery app. `celery -A relay worker|beat|flower` finds it as `relay.app`.

Settings come from `celeryconfig` (read lazily, on first use). Process-level set-up —
JSON logging, Sentry, metrics — hangs off Celery's signals so it happens once per
process, after fork for prefork children.
"""

from __future__ import annotations

from celery import Celery, signals

from relay import brokerclient, brokerfix

# A Redis restart must not make a worker exit (kombu closes only some channels when the
# broker is gone, then the rest fail with AttributeError): see relay/brokerfix.py.
brokerfix.install()
brokerclient.install()   # one Redis client per kombu channel, not one per publish

app = Celery("relay")
app.config_from_object("celeryconfig")


@signals.setup_logging.connect
def _setup_logging(**_kwargs) -> None:
    # Connecting this signal stops Celery from installing its own root handler.
    from relay.logs import configure_logging
    from relay.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, fmt=settings.log_format)


@signals.celeryd_init.connect
@signals.beat_init.connect
@signals.worker_process_init.connect
def _init_process(**_kwargs) -> None:
    from relay.settings import get_settings
    from relay.telemetry import init_sentry

    init_sentry(get_settings(), component="celery")


@signals.beat_init.connect
def _start_watchdog(**_kwargs) -> None:
    # The stall watchdog runs in beat, not on a worker: the maintenance worker may be the
    # one that is dead (relay/watchdog.py).
    from relay.watchdog import start_thread

    start_thread()


@signals.worker_ready.connect
def _start_metrics(**_kwargs) -> None:
    from relay.metrics import start_exporter
    from relay.settings import get_settings

    start_exporter(get_settings().metrics_port)


@signals.worker_process_shutdown.connect
def _close_db(**_kwargs) -> None:
    from relay.db import close_pool

    close_pool()
