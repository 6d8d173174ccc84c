"""`relay serve [--host H] [--port P] [--workers N]`: the HTTP API (relay/api) on uvicorn.

Several worker processes (`API_WORKERS`, default 2): one Python process is held to one
core by the GIL. With more than one, Prometheus request metrics are summed across them
through a multiprocess directory (`PROMETHEUS_MULTIPROC_DIR`, created if unset).
"""

from __future__ import annotations

import os
import tempfile

import typer

from relay.cli import app
from relay.settings import reset_settings_cache


@app.command("serve")
def serve_cmd(
    host: str = typer.Option(None, "--host", help="Address to bind (API_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535,
                             help="Port (API_PORT, 8080)."),
    workers: int = typer.Option(None, "--workers", min=1, max=64,
                                help="Worker processes (API_WORKERS, 2)."),
) -> None:
    """Run the HTTP API until stopped (SIGTERM/Ctrl-C finish requests in flight).

    Behind a TLS-terminating proxy set FORWARDED_ALLOW_IPS to the proxy's address so
    client addresses and https are taken from X-Forwarded-* (README: HTTP API).
    Example: relay serve --host 0.0.0.0 --port 8080
    """
    # A request should fail fast (503) rather than wait 30 s for a database connection.
    os.environ.setdefault("DB_POOL_TIMEOUT_SECONDS", "3")
    from relay.cli.common import settings as load

    s = load()
    if "DB_POOL_MIN" not in os.environ:
        # An API keeps its connections: a burst after a quiet spell must not wait while the
        # pool opens them (the first second at 200 requests/s had a p99 of ~350 ms). The
        # settings are read again: with --workers 1 the app runs in this very process.
        os.environ["DB_POOL_MIN"] = str(s.db_pool_max)
        reset_settings_cache()
    import uvicorn

    from relay.logs import configure_logging

    configure_logging(s.log_level, fmt=s.log_format)
    n = workers or s.api_workers
    if n > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="relay-api-metrics-")
    uvicorn.run("relay.api.app:create_app", factory=True, host=host or s.api_host,
                port=port or s.api_port, workers=n, loop="uvloop", http="httptools",
                proxy_headers=True, log_config=None, access_log=False,
                timeout_graceful_shutdown=20,
                # uvicorn's supervisor kills a worker that does not answer its ping within
                # this; its default of 5 s killed workers still importing relay on a busy
                # 2-core host, over and over
                timeout_worker_healthcheck=30)
