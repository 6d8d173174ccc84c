"""The fault schedule, scaled to the production phase.

Times and lengths are fractions of the production phase, so `--duration 600` gives short
outages (a 30 s Homeria outage, providers down 84 s) and `--long` (an hour) the issue's
week-in-miniature (providers down 10 minutes). Faults never overlap, so a failure can be
read against the one fault in force at the time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    at_s: float
    name: str          # a Soak method: fault_<name>
    length_s: float
    what: str


def schedule(production_s: float) -> list[Fault]:
    p = production_s
    return [
        Fault(0.05 * p, "homeria_noise", 0.85 * p,
              "Homeria: 5% 5xx, 5% applied-then-dropped, 429 bursts"),
        Fault(0.10 * p, "homeria_outage", 0.07 * p, "Homeria down (connections dropped)"),
        Fault(0.22 * p, "kill_workers", 2.0, "SIGKILL sync-1 and transactional-1"),
        Fault(0.30 * p, "providers_outage", 0.20 * p, "SMTP, SMS and push all down"),
        Fault(0.55 * p, "redis_restart", 5.0, "Redis restarted, its data lost"),
        Fault(0.68 * p, "postgres_restart", 10.0, "PostgreSQL restarted"),
        Fault(0.80 * p, "beat_kill", max(15.0, 0.05 * p), "beat SIGKILLed, restarted later"),
    ]


def sla_seconds(production_s: float) -> int:
    """Short enough that notifications caught in the provider outage pass it."""
    return max(60, round(0.14 * production_s))
