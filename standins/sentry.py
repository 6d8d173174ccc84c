"""A Sentry ingest stand-in: accepts envelopes (and legacy store posts) and keeps them.

Set `SENTRY_DSN=http://public@127.0.0.1:PORT/1`; the SDK posts to
`/api/1/envelope/`. The tests read the decoded envelopes to prove that errors arrive and
that no email address or phone number is in them.
"""

from __future__ import annotations

import gzip
import json
import zlib

from standins.httpserver import Response, StandInHandler, serve_in_thread


def decode_body(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # only if the SDK found brotli installed

        return brotli.decompress(body)
    return body


class SentryHandler(StandInHandler):
    def route(self, method, path, query, body):
        if method == "POST" and path.startswith("/api/") and path.rstrip("/").endswith(
            ("envelope", "store")
        ):
            raw = decode_body(body, self.headers.get("Content-Encoding"))
            self.server.state.append(raw)
            return Response(200, {"id": "0" * 32})
        return Response(404, {"detail": "not found"})


def envelope_items(raw: bytes) -> list[dict]:
    """Parse an envelope into its JSON items (header lines and payloads)."""
    items = []
    for line in raw.split(b"\n"):
        line = line.strip()
        if line.startswith(b"{"):
            try:
                items.append(json.loads(line))
            except ValueError:
                continue
    return items


def serve(port: int = 0):
    return serve_in_thread(SentryHandler, port=port, state=[])
