"""Responses that are exactly what the CLI's `--json` prints (same encoder: `default=str`),
so `GET /v1/orders/{id}` and `relay orders show --json` can be compared byte for byte."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


def cli_json(doc: Any, status_code: int = 200) -> Response:
    return Response(json.dumps(doc, default=str), status_code=status_code,
                    media_type="application/json")
