import pytest

from relay.errors import InvalidInput
from relay.privacy.subject import Subject


def test_subject_is_normalised_like_producer_input(monkeypatch):
    s = Subject.parse(" C-1 ", "ACME", "es")
    assert (s.customer_id, s.brand, s.country) == ("C-1", "acme", "ES")
    assert s.digest == Subject.parse("C-1", "acme", "ES").digest
    assert "C-1" not in s.digest


@pytest.mark.parametrize(("args", "field"), [
    (("", "acme", "ES"), "customer_id"),
    (("C\x00", "acme", "ES"), "customer_id"),
    (("C-1", "initech", "ES"), "brand"),
    (("C-1", "acme", "XX"), "country"),
])
def test_bad_subject_names_the_field(args, field):
    with pytest.raises(InvalidInput) as exc:
        Subject.parse(*args)
    assert exc.value.field == field


def test_the_beat_runs_retention_hourly_on_maintenance():
    import celeryconfig
    from relay.privacy import tasks

    entries = {e["task"]: e for e in celeryconfig.beat_schedule.values()}
    job = entries["relay.privacy.retention"]
    assert job["schedule"] == 3600 and job["options"]["queue"] == "maintenance"
    assert "relay.privacy.tasks" in celeryconfig.imports
    assert tasks.run_retention.name == "relay.privacy.retention"
