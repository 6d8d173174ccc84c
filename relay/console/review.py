"""The monthly review: `relay sla report --month` (notifications.sla.reports.report) as a page
and as CSV — one row per slice (overall, then each channel, event type, brand, country),
then the dead letters by reason, the root causes a manager asks about."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from notifications.sla import reports

DIMENSIONS = ("channel", "event_type", "brand", "country")
COLUMNS = ("dimension", "value", "events", "on_time", "late", "otnr", "unsent_late",
           "breached", "attempts", "failed_attempts", "error_rate", "p50_s", "p95_s", "p99_s")


def month_report(month: str) -> dict:
    """InvalidInput naming `--month` for a malformed or future month, as the CLI says."""
    now = datetime.now(UTC)
    start, end = reports.parse_month(month, now)
    return reports.report(start, end, now)


def rows_of(doc: dict) -> list[dict]:
    slices = [("overall", "all", doc["overall"])]
    for dim in DIMENSIONS:
        slices += [(dim, value, s) for value, s in doc[f"by_{dim}"].items()]
    return [{"dimension": dim, "value": value, "events": s["events"],
             "on_time": s["on_time"], "late": s["late"], "otnr": s["otnr"],
             "unsent_late": s["unsent_late"], "breached": s["breached"],
             "attempts": s["attempts"], "failed_attempts": s["failed_attempts"],
             "error_rate": s["error_rate"], "p50_s": s["latency_s"]["p50"],
             "p95_s": s["latency_s"]["p95"], "p99_s": s["latency_s"]["p99"]}
            for dim, value, s in slices]


def csv_of(doc: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows_of(doc):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    for reason, n in doc["dead_letters"]["by_reason"].items():
        writer.writerow({"dimension": "dead_letter_reason", "value": reason, "events": n})
    return out.getvalue()
