"""Authentication and scopes for every route: `Depends(require_scope("read"))`.

No key, a malformed header, or an unknown/revoked key → 401 (with `WWW-Authenticate:
Bearer`); a valid key without the scope → 403; over the key's rate → 429 with
`Retry-After`. All before the endpoint runs, so none of them writes anything.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from relay import apikeys
from relay.api import ratelimit
from relay.api.problems import Problem
from relay.apikeys import Principal

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`; "
                     "create keys with `relay api-keys create NAME --scope …`")


def bearer() -> Callable[..., HTTPAuthorizationCredentials | None]:
    """The Authorization header only (no database): for endpoints that call `authorize`
    themselves inside the one thread-pool call that does their work."""
    return _bearer


def require_credentials(credentials: HTTPAuthorizationCredentials | None) -> None:
    if credentials is None:
        raise Problem(401, "send an API key: Authorization: Bearer <key>",
                      headers={"WWW-Authenticate": "Bearer"})


def authenticated(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    require_credentials(credentials)
    principal = apikeys.authenticate(credentials.credentials)
    if principal is None:
        raise Problem(401, "unknown or revoked API key",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    wait = ratelimit.retry_after(principal.name)
    if wait is not None:
        raise Problem(429, f"rate limit of this API key exceeded; retry in {wait} s",
                      headers={"Retry-After": str(wait)})
    return principal


def authorize(credentials: HTTPAuthorizationCredentials | None, *scopes: str) -> Principal:
    """`require_scope` as a plain call (401, 429, 403 in that order)."""
    principal = authenticated(credentials)
    _check_scope(principal, scopes)
    return principal


def _check_scope(principal: Principal, scopes: tuple[str, ...]) -> None:
    if not any(principal.may(s) for s in scopes):
        raise Problem(403, f"this API key has scope {principal.scope!r}; this needs "
                           f"{' or '.join(scopes)}")


def require_scope(*scopes: str) -> Callable[..., Principal]:
    """A dependency returning the caller's Principal if its key has one of `scopes`
    (`read` is part of `operate`)."""
    async def check(principal: Principal = Depends(authenticated)) -> Principal:
        # async: no I/O here, so no second hop through the thread pool
        _check_scope(principal, scopes)
        return principal

    check.__name__ = f"require_{'_or_'.join(scopes)}"
    return check
