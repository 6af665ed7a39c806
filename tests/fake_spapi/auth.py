"""Login with Amazon: the refresh-token grant of ``/auth/o2/token``.

Access tokens are derived from the refresh token, so a token the library cached from an
earlier fake in the same test process stays valid (as on Amazon, an access token lives
for an hour even after its refresh token is revoked).
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs

from .http import Reply, Request


def access_token_for(refresh_token: str) -> str:
    return "Atza|fake-" + hashlib.sha256(refresh_token.encode()).hexdigest()[:24]


def token(fake, req: Request) -> Reply:
    form = {k: v[0] for k, v in parse_qs(req.raw.decode()).items()}
    if form.get("grant_type") != "refresh_token":
        return Reply(400, {"error": "unsupported_grant_type", "error_description": "grant"})
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if client_id in fake.clients and fake.clients[client_id] != secret:
        return Reply(
            401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        )
    refresh = form.get("refresh_token", "")
    if refresh not in fake.refresh_tokens or refresh in fake.revoked:
        return Reply(
            400,
            {
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter : refresh_token",
            },
        )
    return Reply(
        200,
        {
            "access_token": access_token_for(refresh),
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": refresh,
        },
    )


def authorized(fake, req: Request) -> bool:
    """Whether the ``x-amz-access-token`` was issued for a refresh token of this fake."""
    sent = req.headers.get("x-amz-access-token", "")
    return any(access_token_for(r) == sent for r in fake.refresh_tokens)
