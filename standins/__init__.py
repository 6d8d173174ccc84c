"""Loopback stand-ins for the external systems relay talks to.

Each is a real server implementing its contract (Homeria's HTTP API, SMTP, the SMS and
push APIs, a Sentry ingest endpoint, a Slack-shaped webhook), with fault injection, used
by `scripts/run`, the tests and the benchmarks. Run one with
`python -m standins <name> --port N` (see `standins/__main__.py`).
"""
