"""Building python-amazon-sp-api clients for a seller account, and calling them safely.

* Credentials are decrypted only here, per call, and never logged.
* ``SP_API_DEFAULT_MARKETPLACE`` must never be set: it silently overrides the marketplace
  argument (docs/amazon-rules.md §6), so ``call`` refuses to run when it is.
* Endpoints: Amazon's regional hosts by default; the plugin settings ``endpoint`` and
  ``lwa_url`` point the library elsewhere (the sandbox, or the project's fake SP-API in
  tests) through the library's own ``auth_token_client_class`` and ``client.endpoint``.
* Every call waits for a token of its (account, operation) bucket first; a 429 empties
  the bucket and, for reads, is retried after a jittered back-off (never shorter than
  Amazon's ``Retry-After``; a ``Retry-After`` longer than ``MAX_INLINE_WAIT`` is not slept
  through: the read fails at once and its caller postpones). Writes are never retried
  here: the caller decides, because a POST may have reached Amazon.
* After a failure, ``retry_after`` (a throttled write) and ``recheck_after`` (a read
  before a send) say when to try again: Amazon's ``Retry-After`` when it sent one, else
  when the bucket has a token; reads also back off per (account, operation) streak.
* The library's ``parse_response`` turns a body that is not JSON into an empty success,
  whatever the status (a 500 HTML page from a load balancer becomes "OK, nothing").
  ``check_answer`` runs first on every answer: an error status without Amazon's
  ``errors`` body raises the library's exception for that status, and a read answered
  2xx with a non-JSON body raises ``AmazonError("malformed")``. A write answered 2xx is
  taken as done whatever its body: Amazon acted on it, so treating it as a failure
  would send it twice.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import httpx
from sp_api.auth import AccessTokenClient
from sp_api.base import Marketplaces, SellingApiException, SellingApiRequestThrottledException
from sp_api.base.exceptions import get_exception_for_code

from core import CredentialError, account_credentials, to_naive_utc, utcnow

from .endpoints import connection_problem
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

LWA_URL = "https://api.amazon.com/auth/o2/token"
TIMEOUT = 20.0
READ_RETRIES = 4
# A throttled read is retried in place only when Amazon's Retry-After is this short;
# a longer one would hold a worker thread idle, so the read fails and is postponed.
MAX_INLINE_WAIT = 10.0
# A read before a send that failed for a transient reason (429 after the retries above,
# 5xx, timeout, no connection) is asked again after READ_RECHECK_MIN seconds, doubling
# with each consecutive failure of the same account and operation, up to READ_RECHECK_MAX.
READ_RECHECK_MIN = 60.0
READ_RECHECK_MAX = 300.0

limiter = RateLimiter()


class _RedactAccessToken(logging.Filter):
    """The library logs request headers at DEBUG, access token included: mask it, so a
    seller who turns on debug logging does not write a live credential to the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # logging unwraps a lone dict argument: record.args is then the dict itself
        if isinstance(args, dict) and "x-amz-access-token" in args:
            record.args = {**args, "x-amz-access-token": "***"}
        elif isinstance(args, tuple) and args and isinstance(args[0], dict):
            if "x-amz-access-token" in args[0]:
                record.args = ({**args[0], "x-amz-access-token": "***"}, *args[1:])
        return True


logging.getLogger("sp_api.base.client").addFilter(_RedactAccessToken())


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


# Building a library client costs ~0.1-0.3 s (two httpx clients, each loading the CA
# bundle), more than Amazon's 1 request/s leaves per message; clients are therefore
# reused, per thread (a library client keeps per-request state on itself), keyed by
# everything they are built from. The encrypted credentials are part of the key, so new
# credentials get a new client.
_local = threading.local()
CLIENT_CACHE_SIZE = 32


def make_client(engine, account, api_cls, marketplace_code: str, **kwargs):
    """An ``api_cls`` client (Orders, Solicitations...) for ``account`` in a marketplace."""
    if os.environ.get("SP_API_DEFAULT_MARKETPLACE"):
        raise AmazonError(
            "config",
            "unset SP_API_DEFAULT_MARKETPLACE: it overrides the marketplace of every call",
        )
    refused = connection_problem(engine)
    if refused:  # before any secret leaves: only Amazon's hosts (endpoints.py)
        raise AmazonError("config", refused)
    lwa_url = engine.plugin_setting("amazon", "lwa_url", default=LWA_URL)
    timeout = float(engine.plugin_setting("amazon", "timeout", default=TIMEOUT))
    endpoint = engine.plugin_setting("amazon", "endpoint", default="")
    key = (
        api_cls,
        marketplace_code,
        account.id,
        str(account.credentials),
        lwa_url,
        timeout,
        endpoint,
        tuple(sorted(kwargs.items())),
    )
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    client = cache.get(key)
    if client is None:
        client = _build(
            engine, account, api_cls, marketplace_code, lwa_url, timeout, endpoint, kwargs
        )
        if len(cache) >= CLIENT_CACHE_SIZE:
            cache.pop(next(iter(cache))).close()
        cache[key] = client
    return client


def _build(engine, account, api_cls, marketplace_code, lwa_url, timeout, endpoint, kwargs):
    try:
        creds = account_credentials(engine, account)
    except CredentialError as exc:  # the key or the endpoints changed: the seller must act
        raise AmazonError("credentials", f"account {account.name}: {exc}") from exc
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
        auth_token_client_class=_lwa_class(lwa_url),
        timeout=timeout,
        **kwargs,
    )
    if endpoint:
        client.endpoint = endpoint.rstrip("/")
    # The library offers no public hook on its HTTP client (2.1.x keeps an httpx.Client in
    # ``_transport._client``); the end-to-end tests' malformed-answer cases fail if a new
    # release moves it, and production says so in the log instead of going quiet.
    http = getattr(getattr(client, "_transport", None), "_client", None)
    if isinstance(http, httpx.Client):
        http.event_hooks["response"] = [*http.event_hooks["response"], check_answer]
    else:
        log.warning(
            "python-amazon-sp-api: no httpx client found on %s; non-JSON and malformed "
            "answers are reported as the library raises them",
            type(client).__name__,
        )
    return client


def _snippet(body: bytes) -> str:
    text = body[:120].decode("utf-8", "replace").strip()
    return " ".join(text.split()) or "(empty body)"


def check_answer(response: httpx.Response) -> None:
    """httpx response hook: see the module doc (non-JSON bodies and error statuses)."""
    response.read()
    body = response.content
    try:
        parsed = json.loads(body) if body.strip() else None
    except ValueError:
        parsed, is_json = None, False
    else:
        is_json = parsed is not None
    status = response.status_code
    if status >= 400:
        if not (isinstance(parsed, dict) and parsed.get("errors")):
            exc_class = get_exception_for_code(status)
            raise exc_class(
                [{"code": f"HTTP {status}", "message": f"answer is not JSON: {_snippet(body)}"}],
                headers=response.headers,
            )
        return
    if response.request.method == "GET" and not is_json:
        raise AmazonError(
            "malformed",
            f"Amazon answered {response.request.url.path} with {status} and a body that is "
            f"not JSON: {_snippet(body)}",
        )


def error_text(exc: SellingApiException) -> str:
    """Amazon's error list as one line: ``code: message; ...``."""
    errors = exc.error if isinstance(exc.error, list) else [exc.error]
    parts = []
    for e in errors:
        if isinstance(e, dict):
            parts.append(f"{e.get('code', '')}: {e.get('message', '')}".strip(": "))
        else:
            parts.append(str(e))
    return "; ".join(parts) or type(exc).__name__


def retry_after_header(exc) -> float | None:
    """Amazon's ``Retry-After`` on an error answer, in seconds; None when there is none.

    RFC 9110 §10.2.3 allows delta-seconds or an HTTP date; a negative, non-numeric or
    unreadable value counts as absent.
    """
    headers = getattr(exc, "headers", None)
    if not headers:
        return None
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = to_naive_utc(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, (when - utcnow()).total_seconds())
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


def retry_after(account, operation: str, exc=None) -> float:
    """Seconds until a throttled ``operation`` is worth calling again: Amazon's
    ``Retry-After`` when it sent one, and never before the account's bucket for the
    operation has a token again (SP-API usage plans: one bucket per seller and
    operation, refilled at the ``x-amzn-RateLimit-Limit`` rate)."""
    return max(retry_after_header(exc) or 0.0, limiter.refill_in(account.id, operation))


def recheck_after(account, operation: str, exc=None) -> float:
    """Seconds until a read that failed for a transient reason is asked again.

    At least ``retry_after``; otherwise ``READ_RECHECK_MIN`` doubling with each
    consecutive failure of this (account, operation) up to ``READ_RECHECK_MAX``, with
    jitter so that a burst of postponed messages does not come back in one instant.
    """
    streak = limiter.note_failure(account.id, operation)
    backoff = min(READ_RECHECK_MAX, READ_RECHECK_MIN * 2 ** (streak - 1))
    backoff *= random.uniform(1.0, 1.2)  # jitter, not a secret  # nosec B311
    return max(retry_after(account, operation, exc), backoff)


def call(account, operation: str, fn, *args, write: bool = False, **kwargs):
    """Rate-limited call of a library method; reads are retried on 429 and 5xx."""
    attempts = 1 if write else READ_RETRIES
    for attempt in range(1, attempts + 1):
        limiter.acquire(account.id, operation)
        # Jittered exponential back-off (never for writes: they returned or raised below).
        pause = min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)  # jitter  # nosec B311
        try:
            response = fn(*args, **kwargs)
        except SellingApiRequestThrottledException as exc:
            limiter.penalise(account.id, operation)
            limiter.observe(
                account.id, operation, (exc.headers or {}).get("x-amzn-RateLimit-Limit")
            )
            # A read does not sleep through a long wait, whether Amazon says it
            # (Retry-After) or the emptied bucket does (one interval of a slow
            # operation: 3 minutes for searchOrders): the caller re-checks later, and a
            # worker asked to stop is not held in a sleep.
            told = retry_after_header(exc) or 0.0
            refill = limiter.refill_in(account.id, operation)
            if attempt == attempts or max(told, refill) > MAX_INLINE_WAIT:
                raise
            pause = max(pause, told)
        except SellingApiException as exc:
            status = getattr(exc, "code", 0) or 0
            if write or status < 500 or attempt == attempts:
                raise
        else:
            limiter.observe(account.id, operation, getattr(response, "rate_limit", None))
            limiter.note_success(account.id, operation)
            return response
        time.sleep(pause)
    raise AssertionError("unreachable")
