"""Plain functions of dead letters and alerts: durations, filters, Slack payloads."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from relay import alerts
from relay.deadletters import Filters, parse_duration
from relay.deadletters.store import clean
from relay.errors import ConfigurationError, InvalidInput


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("7d", 604800), ("2w", 1209600),
    (" 24H ", 86400),
])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["3x", "", "1.5h", "-1h", "h", "0m", "1 h", "10"])
def test_bad_durations_name_the_option(text):
    with pytest.raises(InvalidInput) as exc:
        parse_duration(text, "--older-than")
    assert exc.value.field == "--older-than"


def test_filters_validate_state_limit_and_a_window_that_cannot_match():
    with pytest.raises(InvalidInput, match="state"):
        Filters(state="lost")
    with pytest.raises(InvalidInput, match="limit"):
        Filters(limit=0)
    with pytest.raises(InvalidInput, match="older-than"):
        Filters(older_than=timedelta(hours=2), newer_than=timedelta(hours=1))


def test_filters_make_parameterised_sql():
    where, params = Filters(kind="email_change", brand="ACME", country="es",
                            older_than=timedelta(hours=1), state="all").where()
    assert "%s" in where and "email_change" not in where
    assert params == ["email_change", "acme", "ES", timedelta(hours=1)]
    assert Filters(state="all").where() == ("TRUE", [])


def test_clean_masks_before_it_truncates():
    text = "x" * 25 + " ana.s@example.com and more"
    out = clean(text, 30)
    assert "ana.s" not in out and len(out) == 30 and out.endswith("…")
    assert clean(None, 10) is None


def test_summary_text_counts_by_label_most_first():
    summary = alerts.Summary("dead_letters.email_change", "Dead letter: email_change",
                             "email_change dead letters", 37,
                             {"email_in_use": 7, "customer_not_found": 30}, 60.0)
    assert summary.text == ("37 more email_change dead letters in the last 60 s: "
                            f"customer_not_found{alerts.TIMES}30, email_in_use{alerts.TIMES}7")


def test_payload_is_slack_shaped_and_scrubbed():
    doc = alerts.payload("k", "Dead letter", "no customer ana@example.com", "error",
                         {"reason": "customer_not_found", "phone": "+34600000123",
                          "empty": None})
    assert set(doc) == {"text", "blocks"}
    assert doc["blocks"][0]["type"] == "section"
    fields = doc["blocks"][1]["fields"]
    assert len(fields) == 2 and all(f["type"] == "mrkdwn" for f in fields)
    flat = str(doc)
    assert "ana@example.com" not in flat and "+34600000123" not in flat
    assert not re.search(r"[A-Za-z0-9]@example", flat)


def test_payload_respects_slack_limits():
    doc = alerts.payload("k", "t", "y" * 10_000, "critical", {f"f{i}": i for i in range(30)})
    assert len(doc["blocks"][0]["text"]["text"]) <= 3000
    assert len(doc["blocks"][1]["fields"]) == 10


def test_window_seconds_from_env(monkeypatch):
    monkeypatch.setenv("ONCALL_ALERT_WINDOW_SECONDS", "5")
    assert alerts.window_seconds() == 5
    monkeypatch.delenv("ONCALL_ALERT_WINDOW_SECONDS")
    assert alerts.window_seconds() == alerts.DEFAULT_WINDOW_S
    for bad in ("nope", "0", "-3", "nan", "inf"):
        monkeypatch.setenv("ONCALL_ALERT_WINDOW_SECONDS", bad)
        with pytest.raises(ConfigurationError, match=r"^ONCALL_ALERT_WINDOW_SECONDS is invalid"):
            alerts.window_seconds()
