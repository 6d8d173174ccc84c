"""The SLA tests' fixtures: the notification stand-ins wired in, alerts captured."""

from tests.support.notifications import standins, wired  # noqa: F401 - fixtures
from tests.support.sla import captured  # noqa: F401 - fixture
