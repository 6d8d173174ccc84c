"""Real `celery worker -Q homeria` processes against the Homeria stand-in in-process."""

import pytest

from tests.support.homeria import homeria, homeria_env  # noqa: F401 - homeria: fixture


@pytest.fixture
def sync_worker(start_worker, homeria):  # noqa: F811 - the fixture imported above
    """sync_worker(**env) -> a threads worker (-c 4) on `homeria`, pointed at the stand-in."""
    def start(concurrency: int = 4, **env: str):
        return start_worker("homeria", pool="threads", concurrency=concurrency,
                            env=homeria_env(homeria.url, **env))
    return start
