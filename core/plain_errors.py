"""Raw error texts (a library's exception, a Python codec error) in plain words.

Sync and import failures used to reach the seller as the exception's text, e.g.
``('invalid_grant', 'The request has an invalid grant parameter', 400)`` or
``'utf-8' codec can't decode byte 0xff``. ``plain_error`` says the same thing as Test
connection does: what happened and what to do. Unknown texts pass through unchanged,
since a raw explanation beats none.
"""

from __future__ import annotations

import re

# (pattern in the raw text, the explanation). First match wins; the order puts the
# most specific first. Login with Amazon's OAuth error codes: RFC 6749 §5.2.
_PLAIN = (
    (
        re.compile(r"invalid_grant"),
        "Amazon refused the refresh token (invalid_grant): it is wrong, expired or was "
        "revoked. Authorize the app again in Seller Central and paste the new refresh token",
    ),
    (
        re.compile(r"invalid_client|unauthorized_client"),
        "Login with Amazon rejected the client id or client secret (invalid_client): copy "
        "both again from the app's Login with Amazon credentials in Seller Central",
    ),
    (
        re.compile(r"Unauthorized.*role|missing a role|denied access", re.I),
        None,  # already plain (the Amazon plugin names the role)
    ),
    (
        re.compile(r"'utf-8' codec can't decode|UnicodeDecodeError", re.I),
        "the file is not UTF-8 text: save the report from Seller Central again as a "
        "tab-separated text file (.txt) and import that file, unchanged",
    ),
    (
        re.compile(r"ConnectError|ConnectTimeout|Name or service not known|Connection refused"),
        "could not reach Amazon (the network or Amazon is down); it is tried again by itself",
    ),
    (
        re.compile(r"ReadTimeout|timed out", re.I),
        "Amazon did not answer in time; it is tried again by itself",
    ),
    (
        re.compile(r"QuotaExceeded|\b429\b"),
        "Amazon is throttling this seller's requests for a moment; it is tried again by itself",
    ),
    (
        re.compile(r"InvalidToken|decrypt", re.I),
        "the stored credentials cannot be decrypted (the secret key changed): enter the "
        "credentials again on the account page",
    ),
)


def plain_error(text: str) -> str:
    """``text`` explained for a seller, keeping any prefix such as ``sync failed: ``."""
    if not text:
        return text
    for pattern, plain in _PLAIN:
        if pattern.search(text):
            if plain is None:
                return text
            prefix = "sync failed: " if text.startswith("sync failed: ") else ""
            return prefix + plain
    return text


def plain_exception(exc: BaseException) -> str:
    """An exception as a sentence: its plain explanation, else ``Type: text``."""
    raw = f"{type(exc).__name__}: {exc}"
    plain = plain_error(raw)
    return plain if plain != raw else (str(exc) or type(exc).__name__)
