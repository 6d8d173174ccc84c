"""What counts as drift for one customer (sync_worker.reconcile.compare)."""

from sync_worker.client import CustomerRecord
from sync_worker.reconcile import compare, expected_fields

ADDRESS = {"line1": "Calle 1", "line2": None, "city": "Madrid", "postal_code": "28013",
           "country": "ES"}


def _row(*changes, ref="HC-1"):
    return {"customer_ref": ref, "field_changes": list(changes)}


def test_synced_changes_fold_oldest_first_and_a_clear_counts():
    assert expected_fields([{"phone": "+34600000001", "last_name": "A"},
                            {"phone": None}, '{"first_name": "Eva"}']) == \
        {"phone": None, "last_name": "A", "first_name": "Eva"}


def test_consistent_when_every_expected_field_matches():
    found = CustomerRecord("HC-1", "a@example.com",
                           {"phone": "+34600000001", "address": {**ADDRESS, "line2": None}})
    assert compare(_row({"phone": "+34600000001"}, {"address": ADDRESS}), found) == []


def test_absent_address_parts_equal_null_ones():
    held = {k: v for k, v in ADDRESS.items() if v is not None}
    assert compare(_row({"address": ADDRESS}), CustomerRecord("HC-1", "a@x.es", {
        "address": held})) == []


def test_drift_names_each_field():
    found = CustomerRecord("HC-2", "a@example.com", {"phone": "+34600000009"})
    assert compare(_row({"phone": "+34600000001", "last_name": None}), found) == \
        ["customer_ref", "phone"]
    assert compare(_row({"last_name": "Ruiz"}), None) == ["email"]
