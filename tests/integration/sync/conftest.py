"""In-process service calls against real PostgreSQL, Redis and the Homeria stand-in."""

import pytest

from tests.support.homeria import seeded_homeria
from tests.support.sync import sync_rt  # noqa: F401 - fixture


@pytest.fixture
def homeria():
    with seeded_homeria(10) as running:
        yield running
