"""Connect Amazon without guesswork: a guided page that walks a seller through
registering a private SP-API application and self-authorizing it in Seller Central,
checks each credential as it is typed (the order source's ``check_credentials``, through
the engine), says which role is missing, then connects the account through the
Accounts page's own form handler (``accounts.new``)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from core.accounts import CREDENTIAL_FIELDS, REGIONS, marketplaces_by_region
from core.crypto import CredentialError

from .audit import audit
from .context import engine
from .security import requires

bp = Blueprint("connect_amazon", __name__, url_prefix="/accounts/connect-amazon")

SOURCE = "amazon"
# Where Amazon documents the steps; their pages change wording often, so the guide
# links them rather than copying screenshots (docs/amazon-rules.md).
GUIDES = {
    "register": "https://developer-docs.amazon.com/sp-api/docs/register-as-a-private-developer",
    "app": "https://developer-docs.amazon.com/sp-api/docs/registering-your-application",
    "authorize": "https://developer-docs.amazon.com/sp-api/docs/self-authorization",
    "roles": "https://developer-docs.amazon.com/sp-api/docs/roles-in-the-selling-partner-api",
}
OPTIONAL_ROLES = (
    ("Inventory and Order Tracking", "needed to sync orders (Orders API and order reports)"),
    (
        "Direct-to-Consumer Shipping (restricted)",
        "buyer names and shipping addresses: only if a template uses them; Amazon grants it "
        "on application",
    ),
    ("Amazon Fulfillment", "optional: FBA shipment details; not needed for messages"),
)


def _checker():
    source = engine().sources.get(SOURCE)
    return source.check_credentials if source is not None else None


def _posted() -> dict:
    return {
        "name": request.form.get("name", "").strip(),
        "region": request.form.get("region", ""),
        "marketplaces": request.form.getlist("marketplaces"),
        "test_address": request.form.get("test_address", "").strip(),
    }


def run_checks() -> list:
    """The checks for what the form holds now; an empty list without the Amazon plugin."""
    check = _checker()
    if check is None:
        return []
    values = _posted()
    credentials = {k: request.form.get(k, "") for k, _, _ in CREDENTIAL_FIELDS}
    try:
        return check(engine(), values["region"], values["marketplaces"], credentials)
    except CredentialError as exc:  # the installation's key, not the seller's input
        from core import CredentialCheck

        return [CredentialCheck("", "Encryption key", False, str(exc))]


@bp.route("/")
@requires("admin")
def guide():
    """The step-by-step page: register, create the app with its roles, authorize, paste."""
    return _page()


def _page(checks=None, values=None, status: int = 200):
    return (
        render_template(
            "accounts/connect_amazon.html",
            available=_checker() is not None,
            guides=GUIDES,
            optional_roles=OPTIONAL_ROLES,
            regions=REGIONS,
            groups=marketplaces_by_region(engine()),
            credential_fields=CREDENTIAL_FIELDS,
            checks=checks,
            values=values or {"name": "", "region": "", "marketplaces": [], "test_address": ""},
        ),
        status,
    )


@bp.route("/check", methods=["POST"])
@requires("admin")
def check():
    """Check the credentials typed so far; htmx swaps in the result list, without
    JavaScript the whole page comes back with it (secrets are never echoed)."""
    checks = run_checks()
    failed = [c for c in checks if not c.ok]
    audit(
        "credentials_checked",
        request.form.get("name", "").strip()[:120],
        "; ".join(c.label for c in failed) or "all passed",
    )
    if request.headers.get("HX-Request"):
        return render_template("accounts/_checks.html", checks=checks)
    return _page(checks, _posted())
