"""`relay serve` as a real process against this test's PostgreSQL and Redis, with a sync
worker and the Homeria stand-in when a test asks for them."""

from tests.support.api import api_with_sync, start_api  # noqa: F401 - fixtures
from tests.support.homeria import homeria  # noqa: F401 - fixture
