"""Sentry for every relay process, with PII scrubbed before anything leaves.

`before_send` drops Celery task arguments and request bodies outright and masks every
email address and phone number left anywhere in the event (messages, exception values,
breadcrumbs, extra context, local variables). relay's task arguments are row ids, but a
scrubber that relies on that would fail the day someone passes an email.
"""

from __future__ import annotations

from typing import Any

from relay.logs import get_logger, scrub_value
from relay.settings import Settings

log = get_logger(__name__)
_initialised_for: str | None = None

_DROP_KEYS = {"args", "kwargs", "data", "body", "cookies", "headers", "env"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("[removed]" if k in _DROP_KEYS else _strip(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def scrub_event(event: dict, _hint: dict | None = None) -> dict:
    """Sentry before_send: remove task arguments and request data, mask emails/phones."""
    event = _strip(event)
    return scrub_value(event)


def scrub_breadcrumb(crumb: dict, _hint: dict | None = None) -> dict:
    return scrub_value(_strip(crumb))


def init_sentry(settings: Settings, component: str) -> bool:
    """Initialise Sentry once per process when SENTRY_DSN is set. Returns True if on."""
    global _initialised_for
    if not settings.sentry_dsn:
        return False
    if _initialised_for == settings.sentry_dsn:
        return True
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        integrations=[CeleryIntegration(propagate_traces=False),
                      LoggingIntegration(event_level=None)],
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("component", component)
    _initialised_for = settings.sentry_dsn
    log.info("sentry.enabled", component=component)
    return True


def capture_message(message: str, level: str = "error", **tags: str) -> None:
    """Report an operational event (a new dead letter, an SLA breach) when Sentry is on."""
    try:
        import sentry_sdk

        if sentry_sdk.get_client().is_active():
            with sentry_sdk.new_scope() as scope:
                for k, v in tags.items():
                    scope.set_tag(k, v)
                sentry_sdk.capture_message(message, level=level)
    except Exception as exc:  # telemetry must never break the work
        log.warning("sentry.capture_failed", error=repr(exc))
