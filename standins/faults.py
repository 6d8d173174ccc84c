"""Fault injection shared by every stand-in.

A `Faults` object decides, per request, whether to answer normally, slowly, with an
error, with a 429 (+ Retry-After), to drop the connection (outage), or to handle the
request and then drop the connection without answering ("lost response": the work was
done, the caller cannot know it — what a timeout after a provider applied a change looks
like; `drop_after_apply_rate`). Set it from
command-line flags / env (`Faults.from_env()`), from tests (`faults.update(...)`), or at
run time through `POST /_control/faults` on the HTTP stand-ins.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field, fields


@dataclass
class Decision:
    delay_s: float = 0.0
    status: int | None = None        # answer with this error status instead of handling
    retry_after: int | None = None   # with status 429
    drop: bool = False               # close the connection without answering
    drop_after: bool = False         # handle the request, then close without answering


@dataclass
class Faults:
    error_rate: float = 0.0          # share of requests answered with `error_status`
    error_status: int = 503
    latency_ms: float = 0.0          # added to every request
    latency_jitter_ms: float = 0.0   # uniform extra 0..jitter
    burst_429: int = 0               # the next N requests get 429
    retry_after: int = 1             # seconds, sent with 429
    outage_seconds: float = 0.0      # from now on, for this long, drop connections
    drop_after_apply_rate: float = 0.0   # share handled, then left unanswered (HTTP stand-ins)
    _outage_until: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    ENV_PREFIX = "STANDIN_"

    @classmethod
    def from_env(cls, prefix: str | tuple[str, ...] = "STANDIN_") -> Faults:
        """STANDIN_ERROR_RATE, STANDIN_LATENCY_MS, ... (a stand-in may pass its own prefix,
        or several: the first one set wins). A malformed value raises ValueError naming it."""
        prefixes = (prefix,) if isinstance(prefix, str) else prefix
        kwargs = {}
        for f in fields(cls):
            if f.name.startswith("_"):
                continue
            for p in prefixes:
                raw = os.environ.get(p + f.name.upper())
                if raw in (None, ""):
                    continue
                try:
                    kwargs[f.name] = type(getattr(cls, f.name))(float(raw))
                except ValueError:
                    raise ValueError(f"{p}{f.name.upper()} is invalid: not a number") from None
                break
        faults = cls(**kwargs)
        faults.update()  # arm the outage window, if any
        return faults

    def update(self, **changes) -> None:
        """Change settings at run time. `outage_seconds=N` starts an outage of N s now."""
        with self._lock:
            for key, value in changes.items():
                if key.startswith("_") or not hasattr(self, key):
                    raise ValueError(f"unknown fault setting: {key}")
                value = type(getattr(self, key))(value)
                if key.endswith("_rate") and not 0.0 <= value <= 1.0:
                    raise ValueError(f"{key} must be between 0 and 1")
                setattr(self, key, value)
            if self.outage_seconds > 0 and ("outage_seconds" in changes or not changes):
                self._outage_until = time.monotonic() + self.outage_seconds
            elif "outage_seconds" in changes:
                self._outage_until = 0.0

    def reset(self) -> None:
        self.update(error_rate=0, error_status=503, latency_ms=0, latency_jitter_ms=0,
                    burst_429=0, retry_after=1, outage_seconds=0, drop_after_apply_rate=0)

    def snapshot(self) -> dict:
        with self._lock:
            # not asdict(): it deep-copies the lock and raises
            doc = {f.name: getattr(self, f.name) for f in fields(self)
                   if not f.name.startswith("_")}
            doc["outage_remaining_s"] = max(0.0, self._outage_until - time.monotonic())
            return doc

    def decide(self) -> Decision:
        with self._lock:
            delay = self.latency_ms / 1000.0
            if self.latency_jitter_ms:
                delay += self._rng.uniform(0, self.latency_jitter_ms) / 1000.0
            if time.monotonic() < self._outage_until:
                return Decision(drop=True)
            if self.burst_429 > 0:
                self.burst_429 -= 1
                return Decision(delay_s=delay, status=429, retry_after=self.retry_after)
            if self.error_rate and self._rng.random() < self.error_rate:
                return Decision(delay_s=delay, status=self.error_status)
            lost = bool(self.drop_after_apply_rate) and \
                self._rng.random() < self.drop_after_apply_rate
            return Decision(delay_s=delay, drop_after=lost)


def add_fault_arguments(parser) -> None:
    """argparse flags mirroring the Faults fields, for `python -m standins ...`."""
    parser.add_argument("--error-rate", type=float, default=None)
    parser.add_argument("--error-status", type=int, default=None)
    parser.add_argument("--latency-ms", type=float, default=None)
    parser.add_argument("--latency-jitter-ms", type=float, default=None)
    parser.add_argument("--burst-429", type=int, default=None)
    parser.add_argument("--retry-after", type=int, default=None)
    parser.add_argument("--outage-seconds", type=float, default=None)
    parser.add_argument("--drop-after-apply-rate", type=float, default=None,
                        help="share of requests handled, then left unanswered (0..1)")


def faults_from_args(args, prefix: str | tuple[str, ...] = "STANDIN_",
                     cls: type[Faults] = Faults) -> Faults:
    faults = cls.from_env(prefix)
    changes = {
        f.name: getattr(args, f.name)
        for f in fields(Faults)
        if not f.name.startswith("_") and getattr(args, f.name, None) is not None
    }
    if changes:
        faults.update(**changes)
    return faults
