"""The Homeria stand-in in-process on port 0, and a client pointed at it."""

import uuid
from datetime import UTC, datetime

import pytest

from standins.homeria import serve
from sync_worker.client import HomeriaClient
from sync_worker.payload import EmailChangePayload

TOKEN = "test-token"
SECRET = "test-secret"
SEED = [
    {"brand": "acme", "country": "ES", "email": "ana@example.com", "customer_ref": "HC-ANA"},
    {"brand": "acme", "country": "ES", "email": "bo@example.com", "customer_ref": "HC-BO"},
    {"brand": "acme", "country": "FR", "email": "ana@example.com", "customer_ref": "HC-ANA-FR"},
]


@pytest.fixture
def homeria():
    with serve(token=TOKEN, secret=SECRET, seed=SEED) as running:
        yield running


@pytest.fixture
def client(homeria):
    with HomeriaClient(homeria.url, TOKEN, SECRET, timeout=(1.0, 2.0)) as c:
        yield c


@pytest.fixture
def make_change():
    def make(current, new, brand="acme", country="ES", change_id=None):
        return EmailChangePayload(
            change_id=change_id or uuid.uuid4(), current_email=current, new_email=new,
            brand=brand, country=country, requested_at=datetime(2026, 11, 23, 10, tzinfo=UTC))
    return make
