"""HTTP sessions for relay's outbound calls, and reading their JSON answers.

Every peer (Homeria, the SMS and push providers, the on-call webhook) is called through
a `Session` from `session()`, built once per process (`relay.perprocess`):

- every call has a `timeout` unless it names its own (a call without one can hold a worker
  thread forever), and no call follows a redirect, whatever it asks (a followed redirect
  would carry the Authorization header to another host; every peer's 3xx is an outcome);
- `trust_env` is off. With it on, requests re-reads the environment on every request (it
  walks all of os.environ for *_proxy variables): about a third of a millisecond of CPU
  per POST, a tenth of a busy worker's time. For a peer whose address is fixed for the
  process's life, `for_url` resolves the proxy and CA-bundle variables for it once, here:
  the same routing for less. Without `for_url` the environment is not consulted at all
  (no proxy or ~/.netrc surprises).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from relay.settings import get_settings


class Session(requests.Session):
    """A `requests.Session` whose calls default to `timeout` and never follow redirects
    (`Session.get` asks for them by default: this overrides it)."""

    def __init__(self, timeout: float | tuple[float, float]) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def session(*, timeout: float | tuple[float, float], for_url: str | None = None,
            pool_maxsize: int | None = None) -> Session:
    """A session for one process. `pool_maxsize`: keep-alive connections per host, sized
    for a threaded worker (requests' default is 10)."""
    s = Session(timeout)
    s.trust_env = False
    if for_url is not None:
        s.proxies.update(requests.utils.get_environ_proxies(for_url))
        settings = get_settings()
        bundle = settings.requests_ca_bundle or settings.curl_ca_bundle
        if bundle:
            s.verify = bundle
    if pool_maxsize is not None:
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
    return s


def json_or_none(response: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None (no body, not JSON, or JSON but not an object:
    every peer relay talks to answers with an object, anything else says nothing)."""
    try:
        doc = response.json()
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
