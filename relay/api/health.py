"""`/healthz` (the process answers), `/readyz` (PostgreSQL and Redis reachable): no key,
for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/healthz", summary="The process is alive (no key needed)")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz", summary="PostgreSQL and Redis are reachable (no key needed)",
            responses={503: {"description": "a dependency is unreachable"}})
def readyz():
    checks = {"postgresql": _postgresql(), "redis": _redis()}
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503,
                        headers=None if ready else {"Retry-After": "5"})


def _postgresql() -> str:
    from relay.db import run_one

    try:
        run_one("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"unreachable: {exc.__class__.__name__}"


def _redis() -> str:
    from relay import brokerinfo

    try:
        brokerinfo.client().ping()
        return "ok"
    except Exception as exc:
        return f"unreachable: {exc.__class__.__name__}"
