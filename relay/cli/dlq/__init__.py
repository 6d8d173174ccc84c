"""`relay dlq ...`: on-call work on dead letters (list, show, replay, discard, stats, purge).

People get Rich tables on stdout; `--json` prints exactly one JSON document on stdout.
Prompts, progress bars and notes go to stderr. Every string shown passes the PII scrubber.

The commands live by what they do: `browse` (list, show, stats), `resolve` (replay,
discard and the wait for their outcomes), `purge`; `options` holds the shared flags and
`tables` the output helpers. They are registered here, in the order `--help` lists them.
"""

from __future__ import annotations

import typer

from relay.cli import app
from relay.cli.dlq import browse, purge, resolve

dlq_app = typer.Typer(help="Dead letters: see what failed and why, replay or discard it.",
                      no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")

dlq_app.command("list")(browse.list_cmd)
dlq_app.command("show")(browse.show_cmd)
dlq_app.command("replay")(resolve.replay_cmd)
dlq_app.command("discard")(resolve.discard_cmd)
dlq_app.command("stats")(browse.stats_cmd)
dlq_app.command("purge")(purge.purge_cmd)
