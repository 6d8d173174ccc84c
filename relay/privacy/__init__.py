"""Personal data kept right: retention, erasure and access (issue 19).

- `retention.run()` (beat, hourly): after PII_RETENTION_DAYS, blank the personal columns
  of finished rows; what reports need stays.
- `erasure.erase(...)`: one customer's personal data out of every table, audited.
- `access.export(...)`: everything relay holds about one customer, as one document.

Which columns hold personal data, per table, is written down once in `catalog.py`; the
three functions and the README follow it.
"""
