"""The privacy tests use the sync's Homeria stand-in and the notification stand-ins."""

from tests.integration.notifications.conftest import standins, wired  # noqa: F401
from tests.integration.sync.conftest import homeria, sync_rt  # noqa: F401
