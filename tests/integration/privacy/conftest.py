"""The privacy tests use the sync's Homeria stand-in and the notification stand-ins."""

import pytest

from tests.support.homeria import seeded_homeria
from tests.support.notifications import standins, wired  # noqa: F401 - fixtures
from tests.support.sync import sync_rt  # noqa: F401 - fixture


@pytest.fixture
def homeria():
    with seeded_homeria(10) as running:
        yield running
