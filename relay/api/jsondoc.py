"""Responses that are exactly what the CLI's `--json` prints (same encoder: `default=str`),
so `GET /v1/orders/{id}` and `relay orders show --json` are the same document (only the
CLI's indentation differs)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


def cli_json(doc: Any, status_code: int = 200) -> Response:
    return Response(json.dumps(doc, default=str), status_code=status_code,
                    media_type="application/json")
