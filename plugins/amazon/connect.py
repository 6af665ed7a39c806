"""Checking a seller's SP-API credentials as they are entered, before anything is saved.

A self-hosted install uses the seller's own private SP-API application: registered in
Seller Central (Apps and Services → Develop Apps), given its roles, then self-authorized
("Authorize app"), which shows the refresh token once (docs/amazon-rules.md §7). Each
step can go wrong in its own way, so each is checked on its own and the answer names the
field and the role:

1. the three values look like what Amazon issues (a client id starts with
   ``amzn1.application-oa2-client.``, a refresh token with ``Atzr|``);
2. Login with Amazon exchanges the refresh token: ``invalid_client`` means the client
   id or secret is wrong, ``invalid_grant`` that the refresh token is (RFC 6749 §5.2);
3. the seller sells in the chosen marketplaces with these credentials;
4. each role answers: a call that needs the role is made for an order id that cannot
   exist. Amazon refuses it with 403 when the app lacks the role, and answers "not
   found" (or an empty list) when the role is there.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from sp_api.api import Messaging, Orders, Sellers, Solicitations
from sp_api.base import SellingApiException, SellingApiForbiddenException

from core import CredentialCheck, SellerAccount, sealed_credentials, utcnow

from .client import LWA_URL, AmazonError, error_text, make_client
from .marketplaces import BY_CODE

# An order id in Amazon's format that no seller has: a role probe, never a real order.
PROBE_ORDER = "000-0000000-0000000"
FIELDS = ("lwa_app_id", "lwa_client_secret", "refresh_token")
PREFIXES = {
    "lwa_app_id": (
        "amzn1.application-oa2-client.",
        "LWA client id",
        "copy it from the app's “LWA credentials” (View) in Seller Central → Develop Apps",
    ),
    "refresh_token": (
        "Atzr|",
        "Refresh token",
        "copy it from the page Seller Central shows after “Authorize app”",
    ),
}
# Role -> what it unlocks here. Names as Seller Central's role list shows them
# (docs/amazon-rules.md §7).
ORDERS_ROLE = "Inventory and Order Tracking"
ROLES = (
    (ORDERS_ROLE, "order sync (Orders API)"),
    ("Buyer Solicitation", "Request a Review (Solicitations API)"),
    ("Buyer Communication", "buyer messages (Messaging API)"),
)


def _formats(credentials: dict) -> list[CredentialCheck]:
    out = []
    for field in FIELDS:
        value = (credentials.get(field) or "").strip()
        label = PREFIXES.get(field, (None, "LWA client secret"))[1]
        if not value:
            out.append(CredentialCheck(field, label, False, f"{label}: not entered yet."))
            continue
        prefix = PREFIXES.get(field, (None,))[0]
        if prefix and not value.startswith(prefix):
            where = PREFIXES[field][2]
            out.append(
                CredentialCheck(
                    field, label, False, f"{label}: does not start with {prefix}; {where}."
                )
            )
        else:
            out.append(CredentialCheck(field, label, True, f"{label}: looks right."))
    return out


def _lwa(engine, credentials: dict) -> CredentialCheck:
    """Exchange the refresh token once, as the library will; name the field at fault."""
    url = engine.plugin_setting("amazon", "lwa_url", default=LWA_URL)
    try:
        response = httpx.post(
            url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": credentials["refresh_token"].strip(),
                "client_id": credentials["lwa_app_id"].strip(),
                "client_secret": credentials["lwa_client_secret"].strip(),
            },
            timeout=float(engine.plugin_setting("amazon", "timeout", default=20)),
        )
    except httpx.HTTPError as exc:
        return CredentialCheck(
            "", "Login with Amazon", False, f"Login with Amazon could not be reached ({exc})."
        )
    try:
        code = (response.json() or {}).get("error", "")
    except ValueError:
        code = ""
    if response.status_code == 200:
        return CredentialCheck(
            "refresh_token",
            "Login with Amazon",
            True,
            "Login with Amazon accepted the client id, secret and refresh token.",
        )
    if code in ("invalid_client", "unauthorized_client"):
        return CredentialCheck(
            "lwa_client_secret",
            "Login with Amazon",
            False,
            "Login with Amazon rejected the client id or client secret (invalid_client): copy "
            "both again from the app's LWA credentials in Seller Central → Develop Apps.",
        )
    if code == "invalid_grant":
        return CredentialCheck(
            "refresh_token",
            "Login with Amazon",
            False,
            "Login with Amazon rejected the refresh token (invalid_grant): it is mistyped, "
            "belongs to another app, or was revoked. Click “Authorize app” again and paste "
            "the new token.",
        )
    return CredentialCheck(
        "",
        "Login with Amazon",
        False,
        f"Login with Amazon answered {response.status_code} {code or ''}".strip() + ".",
    )


def _probe(engine, account, code: str, role: str) -> str | None:
    """None when the app has ``role`` for marketplace ``code``, else why not."""
    mid = BY_CODE[code].marketplace_id
    try:
        if role == "Inventory and Order Tracking":
            client = make_client(engine, account, Orders, code, version="2026-01-01")
            client.search_orders(
                lastUpdatedAfter=(utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                marketplaceIds=[mid],
            )
        elif role == "Buyer Solicitation":
            client = make_client(engine, account, Solicitations, code)
            client.get_solicitation_actions_for_order(PROBE_ORDER, marketplaceIds=[mid])
        else:
            client = make_client(engine, account, Messaging, code)
            client.get_messaging_actions_for_order(PROBE_ORDER, marketplaceIds=[mid])
    except SellingApiForbiddenException as exc:
        return f"Amazon refused it ({error_text(exc)})"
    except SellingApiException:
        return None  # "not found" or "invalid input" for the probe order: the role answers
    return None


def missing_role_text(role: str, exc=None) -> str:
    """What a refused call means and how to fix it, naming the role."""
    unlocks = dict(ROLES)[role]
    refused = f"Amazon refused it ({error_text(exc)}). " if exc is not None else ""
    return (
        f"the app lacks the {role} role, so {unlocks} cannot work. {refused}In Seller "
        f"Central → Develop Apps, edit the app, tick “{role}”, save, then click “Authorize "
        "app” again and paste the new refresh token"
    )


def missing_roles(engine, account, code: str) -> str | None:
    """None when every role answers for ``account`` in marketplace ``code``, else a
    sentence naming the missing ones (for Test connection)."""
    missing = [role for role, _ in ROLES if _probe(engine, account, code, role) is not None]
    if not missing:
        return None
    return "; ".join(missing_role_text(role) for role in missing)


def check_credentials(engine, region: str, marketplaces, credentials: dict) -> list:
    """Every check that can run with what was entered so far (see the module's steps)."""
    checks = _formats(credentials)
    if not all(c.ok for c in checks):
        return checks
    lwa = _lwa(engine, credentials)
    checks.append(lwa)
    if not lwa.ok:
        return checks
    codes = [c for c in marketplaces if c in BY_CODE]
    if not codes:
        checks.append(
            CredentialCheck("marketplaces", "Marketplaces", False, "Choose a marketplace.")
        )
        return checks
    wrong = [c for c in codes if region and BY_CODE[c].region != region]
    if wrong:
        checks.append(
            CredentialCheck(
                "region",
                "Region",
                False,
                f"{', '.join(wrong)} is not in region {region}: choose the region of the "
                "marketplaces, or connect one account per region.",
            )
        )
        return checks
    # Not saved: an account object only to hand the credentials to the library.
    account = SellerAccount(name="(being connected)", source="amazon", region=region)
    account.credentials = _sealed(engine, credentials)
    client = make_client(engine, account, Sellers, codes[0])
    try:
        answer = client.get_marketplace_participation()
    except (SellingApiException, AmazonError, httpx.HTTPError) as exc:
        text = error_text(exc) if isinstance(exc, SellingApiException) else str(exc)
        checks.append(
            CredentialCheck("", "Marketplaces", False, f"Amazon refused to list them ({text}).")
        )
        return checks
    allowed = {(p.get("marketplace") or {}).get("id") for p in (answer.payload or [])}
    missing = [c for c in codes if BY_CODE[c].marketplace_id not in allowed]
    checks.append(
        CredentialCheck(
            "marketplaces",
            "Marketplaces",
            not missing,
            f"The seller does not sell in {', '.join(missing)} with these credentials: "
            "another region, or another seller's token?"
            if missing
            else f"The seller sells in {', '.join(codes)}.",
        )
    )
    for role, unlocks in ROLES:
        why = _probe(engine, account, codes[0], role)
        checks.append(
            CredentialCheck(
                "role",
                role,
                why is None,
                f"{role}: granted, {unlocks} will work."
                if why is None
                else f"{role} is missing: {why}. Without it {unlocks} cannot work. In "
                "Seller Central → Develop Apps, edit the app, tick “{role}”, save, then "
                "click “Authorize app” again and paste the new refresh token.".replace(
                    "{role}", role
                ),
            )
        )
    return checks


def _sealed(engine, credentials: dict):
    return sealed_credentials(engine, {k: credentials[k].strip() for k in FIELDS})
