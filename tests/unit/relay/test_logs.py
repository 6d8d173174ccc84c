import io
import json

from relay.logs import bind, configure_logging, get_logger, mask_email, mask_phone, scrub


def test_mask_email_keeps_first_letter_and_domain():
    assert mask_email("ana.s@example.com") == "a***@example.com"
    assert mask_email("not-an-email") == "***"


def test_mask_phone_keeps_prefix_and_last_digits():
    assert mask_phone("+34600000123") == "+34******123"


def test_scrub_masks_every_email_and_phone_in_free_text():
    text = scrub("from ana@example.com to bo.b+x@shop.example.co.uk, call +34 600 000 123")
    assert "ana@" not in text and "bo.b+x@" not in text
    assert "a***@example.com" in text and "b***@shop.example.co.uk" in text
    assert "600 000" not in text


def test_scrub_leaves_ids_alone():
    assert scrub("C-1001 7d1c2f0e-9a1b-4c1d-8e2f-000000000001") == (
        "C-1001 7d1c2f0e-9a1b-4c1d-8e2f-000000000001")


def test_json_log_line_has_event_fields_bound_context_and_no_email():
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    with bind(task_id="abc"):
        get_logger("t").info("homeria.synced", email="ana@example.com", status=200)
    doc = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert doc["event"] == "homeria.synced"
    assert doc["task_id"] == "abc"
    assert doc["status"] == 200
    assert doc["email"] == "a***@example.com"


def test_console_format_is_one_readable_line():
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, fmt="console")
    get_logger("t").warning("outbox.swept", published=3)
    line = stream.getvalue().strip()
    assert "WARNING" in line and "outbox.swept published=3" in line
