"""Building python-amazon-sp-api clients for a seller account, and calling them safely.

* Credentials are decrypted only here, per call, and never logged.
* ``SP_API_DEFAULT_MARKETPLACE`` must never be set: it silently overrides the marketplace
  argument (DOMAIN.md §6), so ``call`` refuses to run when it is.
* Endpoints: Amazon's regional hosts by default; the plugin settings ``endpoint`` and
  ``lwa_url`` point the library elsewhere (the sandbox, or the project's fake SP-API in
  tests) through the library's own ``auth_token_client_class`` and ``client.endpoint``.
* Every call waits for a token of its (account, operation) bucket first; a 429 empties
  the bucket and, for reads, is retried after a jittered back-off. Writes are never
  retried here: the caller decides, because a POST may have reached Amazon.
"""

from __future__ import annotations

import logging
import os
import random
import time
from urllib.parse import urlparse

from sp_api.auth import AccessTokenClient
from sp_api.base import Marketplaces, SellingApiException, SellingApiRequestThrottledException

from core.services import account_credentials

from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

LWA_URL = "https://api.amazon.com/auth/o2/token"
TIMEOUT = 20.0
READ_RETRIES = 4

limiter = RateLimiter()


class AmazonError(Exception):
    """A failure the seller can act on; ``kind`` is one of credentials, role, region,
    throttled, server, malformed, timeout."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _lwa_class(url: str) -> type[AccessTokenClient]:
    parsed = urlparse(url)
    return type(
        "FollowupLWAClient",
        (AccessTokenClient,),
        {"scheme": f"{parsed.scheme}://", "host": parsed.netloc, "path": parsed.path},
    )


def make_client(engine, account, api_cls, marketplace_code: str, **kwargs):
    """An ``api_cls`` client (Orders, Solicitations...) for ``account`` in a marketplace."""
    if os.environ.get("SP_API_DEFAULT_MARKETPLACE"):
        raise AmazonError(
            "config",
            "unset SP_API_DEFAULT_MARKETPLACE: it overrides the marketplace of every call",
        )
    creds = account_credentials(engine, account)
    missing = [k for k in ("refresh_token", "lwa_app_id", "lwa_client_secret") if not creds.get(k)]
    if missing:
        raise AmazonError("credentials", f"account {account.name}: missing {', '.join(missing)}")
    marketplace = Marketplaces["UK" if marketplace_code == "GB" else marketplace_code]
    client = api_cls(
        marketplace=marketplace,
        refresh_token=creds["refresh_token"],
        credentials={
            "refresh_token": creds["refresh_token"],
            "lwa_app_id": creds["lwa_app_id"],
            "lwa_client_secret": creds["lwa_client_secret"],
        },
        auth_token_client_class=_lwa_class(
            engine.plugin_setting("amazon", "lwa_url", default=LWA_URL)
        ),
        timeout=float(engine.plugin_setting("amazon", "timeout", default=TIMEOUT)),
        **kwargs,
    )
    endpoint = engine.plugin_setting("amazon", "endpoint", default="")
    if endpoint:
        client.endpoint = endpoint.rstrip("/")
    return client


def error_text(exc: SellingApiException) -> str:
    errors = exc.error if isinstance(exc.error, list) else [exc.error]
    parts = []
    for e in errors:
        if isinstance(e, dict):
            parts.append(f"{e.get('code', '')}: {e.get('message', '')}".strip(": "))
        else:
            parts.append(str(e))
    return "; ".join(parts) or type(exc).__name__


def call(account, operation: str, fn, *args, write: bool = False, **kwargs):
    """Rate-limited call of a library method; reads are retried on 429 and 5xx."""
    attempts = 1 if write else READ_RETRIES
    for attempt in range(1, attempts + 1):
        limiter.acquire(account.id, operation)
        try:
            response = fn(*args, **kwargs)
        except SellingApiRequestThrottledException as exc:
            limiter.penalise(account.id, operation)
            limiter.observe(
                account.id, operation, (exc.headers or {}).get("x-amzn-RateLimit-Limit")
            )
            if attempt == attempts:
                raise
        except SellingApiException as exc:
            status = getattr(exc, "code", 0) or 0
            if write or status < 500 or attempt == attempts:
                raise
        else:
            limiter.observe(account.id, operation, getattr(response, "rate_limit", None))
            return response
        # Jittered exponential back-off (never for writes: they returned or raised above).
        time.sleep(min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")
