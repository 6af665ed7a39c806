"""Seller accounts: connect, credentials, test connection, sync with live progress, import.

Credentials go in through ``core.services.save_account_credentials`` (Fernet) and never
come back out: the forms show "stored — leave blank to keep" instead of the values, and
no page, fragment or flash message ever contains a secret.
"""

from __future__ import annotations

import logging
import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename

from core import compliance
from core.accounts import mark_account, queue_sync, requeue_account_messages
from core.clock import utcnow
from core.credentials import account_credentials, save_account_credentials
from core.crypto import CredentialError, redact
from core.importer import OrderImportError as ImportError_
from core.importer import import_orders
from core.models import Campaign, Message, Order, SellerAccount

from .security import ROLE_RANK, current_user, requires
from .views_format import audit, engine, runtime

log = logging.getLogger(__name__)

bp = Blueprint("accounts", __name__, url_prefix="/accounts")

REGIONS = {"NA": "North America", "EU": "Europe", "FE": "Far East"}
# The Login with Amazon (LWA) app credentials plus the seller's refresh token
# (docs/amazon-rules.md §7):
# what python-amazon-sp-api needs, under the names the order source reads.
CREDENTIAL_FIELDS = (
    ("lwa_app_id", "LWA client id", "amzn1.application-oa2-client.…"),
    ("lwa_client_secret", "LWA client secret", ""),
    ("refresh_token", "Refresh token", "Atzr|…"),
)
# Sources whose accounts need SP-API credentials and a region (one region per account:
# an SP-API refresh token is valid for one region's endpoint only).
API_SOURCES = ("amazon",)
ACTIVE_TEXTS = ("queued",)
QUEUE_PATIENCE = timedelta(minutes=15)


def _account(account_id: int) -> SellerAccount:
    account = SellerAccount.get_or_none(SellerAccount.id == account_id)
    if account is None:
        abort(404, description="No such seller account.")
    return account


def _sources() -> dict:
    """Order sources an account can be connected to (those that can fetch orders)."""
    return {n: s for n, s in engine().sources.items() if s.fetch is not None}


def _import_sources() -> dict:
    return {n: s for n, s in engine().sources.items() if s.import_file is not None}


def _marketplaces_by_region() -> dict[str, list]:
    groups: dict[str, list] = {}
    for mkt in sorted(engine().marketplaces.values(), key=lambda m: (m.region, m.code)):
        groups.setdefault(mkt.region, []).append(mkt)
    return groups


def is_active(account: SellerAccount) -> bool:
    """Whether the account's sync is queued or running (the progress bar keeps polling).

    A sync queued long ago that no worker picked up is not polled for ever: the page
    says so instead (``stale_queue``).
    """
    progress = account.sync_progress or {}
    return account.status == "syncing" or (
        progress.get("text") in ACTIVE_TEXTS and not stale_queue(account)
    )


def stale_queue(account: SellerAccount) -> bool:
    """Whether the account's sync has waited in the queue longer than ``QUEUE_PATIENCE``."""
    progress = account.sync_progress or {}
    if progress.get("text") != "queued" or account.status == "syncing":
        return False
    try:
        queued = datetime.fromisoformat(progress.get("queued_at", ""))
    except ValueError:
        return True
    return utcnow() - queued > QUEUE_PATIENCE


def _stored_hints(account: SellerAccount | None) -> dict[str, str]:
    """What the form may say about stored credentials: never a secret, at most a hint."""
    if account is None or not account.credentials:
        return {}
    try:
        creds = account_credentials(engine(), account, check_binding=False)
    except CredentialError:
        return {k: "cannot be decrypted — enter it again" for k, _, _ in CREDENTIAL_FIELDS}
    hints = {k: "stored — leave blank to keep" for k, _, _ in CREDENTIAL_FIELDS if creds.get(k)}
    if creds.get("lwa_app_id"):
        # The client id is not a secret, but its end is enough to recognise it.
        hints["lwa_app_id"] = f"stored ({redact(creds['lwa_app_id'])}) — leave blank to keep"
    return hints


def _form_values(account: SellerAccount | None) -> dict:
    if request.method == "POST":
        return {
            "name": request.form.get("name", "").strip(),
            "source": request.form.get("source", ""),
            "region": request.form.get("region", ""),
            "marketplaces": request.form.getlist("marketplaces"),
            "test_address": request.form.get("test_address", "").strip(),
            "allowed_words": request.form.get("allowed_words", "").strip(),
        }
    if account is None:
        return {
            "name": "",
            "source": "amazon",
            "region": "",
            "marketplaces": [],
            "allowed_words": "",
        }
    return {
        "name": account.name,
        "source": account.source,
        "region": account.region,
        "marketplaces": list(account.marketplaces or []),
        "test_address": account.test_address,
        "allowed_words": account.allowed_words,
    }


ALLOWED_WORDS_MAX = 500


def allowed_words_error(text: str) -> str:
    """Why the product and brand names cannot be saved, or "" (each a word, at most 60
    characters, at most 500 names)."""
    words = compliance.allowed_words(text)
    if len(words) > ALLOWED_WORDS_MAX:
        return f"Enter at most {ALLOWED_WORDS_MAX} names (there are {len(words)})."
    for word in words:
        if len(word) > 60 or not re.fullmatch(r"[^\W_][\w'’&.+-]*", word):
            return (
                f"{word[:60]!r} cannot be a product or brand name: use letters, digits and "
                "- . & ' + (at most 60 characters each)."
            )
    return ""


def _validate(values: dict, account: SellerAccount | None) -> tuple[dict, dict]:
    """Field errors, and the credentials typed in (blank fields keep the stored ones)."""
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Give the account a name, e.g. your store name and region."
    elif len(values["name"]) > 120:
        errors["name"] = "Use at most 120 characters."
    elif (
        SellerAccount.select()
        .where(
            (SellerAccount.name == values["name"])
            & (SellerAccount.id != (account.id if account else 0))
        )
        .exists()
    ):
        errors["name"] = "Another account already has this name."
    if values["source"] not in _sources():
        errors["source"] = f"Choose one of: {', '.join(_sources()) or 'no order source loaded'}."
    needs_api = values["source"] in API_SOURCES
    if values["region"] and values["region"] not in REGIONS:
        errors["region"] = "Choose NA, EU or FE."
    elif needs_api and not values["region"]:
        errors["region"] = "Choose the region your seller account is registered in."
    known = engine().marketplaces
    chosen = values["marketplaces"]
    if not chosen:
        errors["marketplaces"] = "Tick at least one marketplace you sell in."
    elif unknown := [c for c in chosen if c not in known]:
        errors["marketplaces"] = f"Unknown marketplace: {', '.join(unknown)}."
    elif values["region"] in REGIONS:
        # One SP-API refresh token serves one region: other regions need their own account.
        wrong = [c for c in chosen if known[c].region != values["region"]]
        if wrong:
            errors["marketplaces"] = (
                f"{', '.join(wrong)} not in region {values['region']}: "
                "connect a separate account for that region."
            )
    address = values.get("test_address", "")
    if address and ("@" not in address or len(address) > 255 or " " in address):
        errors["test_address"] = "Enter an address such as you@example.com, or leave it empty."
    words_error = allowed_words_error(values.get("allowed_words", ""))
    if words_error:
        errors["allowed_words"] = words_error
    typed = {k: request.form.get(k, "").strip() for k, _, _ in CREDENTIAL_FIELDS}
    typed = {k: v for k, v in typed.items() if v}
    if needs_api:
        stored = _stored_hints(account)
        for key, label, _ in CREDENTIAL_FIELDS:
            if key not in typed and (key not in stored or "cannot" in stored[key]):
                errors[key] = f"Enter the {label}."
    return errors, typed


def _render_form(account, values, errors, status=200):
    return (
        render_template(
            "accounts/form.html",
            account=account,
            values=values,
            errors=errors,
            sources=_sources(),
            api_sources=API_SOURCES,
            regions=REGIONS,
            groups=_marketplaces_by_region(),
            credential_fields=CREDENTIAL_FIELDS,
            stored=_stored_hints(account),
        ),
        status,
    )


def _save(account: SellerAccount | None) -> SellerAccount | tuple:
    values = _form_values(account)
    errors, typed = _validate(values, account)
    if errors:
        flash("The account was not saved: correct the fields marked below.", "error")
        return _render_form(account, values, errors, 422)
    eng = engine()
    created = account is None
    if created:
        account = SellerAccount(status="new")
    account.name = values["name"]
    account.source = values["source"]
    account.region = values["region"]
    account.marketplaces = sorted(values["marketplaces"])
    account.test_address = values["test_address"]
    account.allowed_words = "\n".join(compliance.allowed_words(values.get("allowed_words", "")))
    account.save()
    if typed:
        try:
            creds = account_credentials(eng, account, check_binding=False) if not created else {}
        except CredentialError:
            creds = {}
        creds.update(typed)
        # Secrets typed in now are bound to the connection settings in force; a form
        # that leaves them blank keeps the old binding (core.services).
        secrets = {key for key, _label, _hint in CREDENTIAL_FIELDS if key != "lwa_app_id"}
        save_account_credentials(eng, account, creds, rebind=created or secrets <= set(typed))
        if not created:
            # Messages postponed because the old credentials failed need not wait for
            # their day-long re-check: the new ones are tried at the next dispatch.
            requeue_account_messages(account, "re-queued: credentials were updated")
    changed = ", ".join(sorted(typed)) or "no credentials"
    audit(
        "account_connected" if created else "account_changed",
        account.name,
        f"{account.source} {account.region} {','.join(account.marketplaces)}; set {changed}",
    )
    flash(
        f"Account {account.name} {'connected' if created else 'saved'}. "
        "Use Test connection to check the credentials.",
        "success",
    )
    return redirect(url_for("accounts.index"))


@bp.route("/")
def index():
    """Every seller account with region, marketplaces, status, last sync and live progress."""
    accounts = list(SellerAccount.select().order_by(SellerAccount.name))
    return render_template(
        "accounts/index.html",
        accounts=accounts,
        is_active=is_active,
        stale_queue=stale_queue,
        testable={n for n, src in engine().sources.items() if src.test_connection},
        import_sources=_import_sources(),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires("admin")
def new():
    """Connect a seller account: order source, region, marketplaces and credentials."""
    if request.method == "GET":
        return _render_form(None, _form_values(None), {})
    return _save(None)


@bp.route("/<int:account_id>/edit", methods=["GET", "POST"])
@requires("admin")
def edit(account_id: int):
    """Change an account; blank credential fields keep the stored (encrypted) values."""
    account = _account(account_id)
    if request.method == "GET":
        return _render_form(account, _form_values(account), {})
    return _save(account)


@bp.route("/<int:account_id>/delete", methods=["GET", "POST"])
@requires("admin")
def delete(account_id: int):
    """Confirm, then delete an account with its orders and message history."""
    account = _account(account_id)
    orders = Order.select().where(Order.account == account).count()
    sent = (
        Message.select()
        .where((Message.account == account) & Message.state.in_(["sent", "in_doubt"]))
        .count()
    )
    campaigns = list(Campaign.select().where(Campaign.account == account))
    blocker = ""
    if campaigns:
        blocker = (
            f"Campaigns {', '.join(c.name for c in campaigns)} belong to this account: "
            "delete them or move them to another account first."
        )
    elif sent and not account.is_demo:
        # The message history is what stops a second message to the same buyer if the
        # account is connected again; deleting it would break "never send twice".
        blocker = (
            f"{sent} messages were sent for this account. Followup keeps their history so a "
            "reconnected account never messages a buyer twice; edit the account instead."
        )
    refused = request.method == "POST" and bool(blocker)
    if refused:
        flash(blocker, "error")
    if request.method == "GET" or refused:
        page = render_template(
            "accounts/delete.html", account=account, orders=orders, blocker=blocker
        )
        return page, 409 if refused else 200
    name = account.name
    account.delete_instance()  # orders, messages and their trace cascade in the database
    audit("account_deleted", name, f"{orders} orders deleted")
    flash(f"Account {name} deleted with its {orders} orders.", "success")
    return redirect(url_for("accounts.index"))


@bp.route("/<int:account_id>/test", methods=["POST"])
@requires("editor")
def test(account_id: int):
    """Run the order source's cheap test call and say exactly what failed, or Connected."""
    account = _account(account_id)
    source = engine().sources.get(account.source)
    if source is None:
        problem = f"order source {account.source!r} is not loaded"
    elif source.test_connection is None:
        flash(f"{account.name}: {source.label} needs no connection, nothing to test.", "info")
        return redirect(url_for("accounts.index"))
    else:
        try:
            problem = source.test_connection(engine(), account)
        except CredentialError as exc:
            problem = str(exc)
        except Exception as exc:  # noqa: BLE001 - a plugin bug is shown, not a 500
            log.exception("test_connection of %s failed", account.name)
            problem = f"{type(exc).__name__}: {exc}"
    if problem:
        flash(f"Test connection of {account.name} failed: {problem}", "error")
        audit("account_test_failed", account.name, problem)
    else:
        flash(f"Test connection of {account.name}: Connected.", "success")
        audit("account_test_ok", account.name)
        if account.status == "error":
            # The credentials work again: say so, and let the messages that waited on
            # them go at the next dispatch instead of at their day-long re-check.
            mark_account(account, "ok", "Test connection: connected")
        requeue_account_messages(account, "re-queued: Test connection succeeded")
    return redirect(url_for("accounts.index"))


@bp.route("/<int:account_id>/sync", methods=["POST"])
@requires("editor")
def sync(account_id: int):
    """Queue a sync on the background worker; ``mode=full`` re-reads from the start."""
    account = _account(account_id)
    full = request.form.get("mode") == "full"
    if is_active(account):
        flash(f"{account.name} is already syncing.", "info")
        return redirect(url_for("accounts.index"))
    source = engine().sources.get(account.source)
    if source is None or source.fetch is None:
        flash(f"{account.name}: order source {account.source!r} cannot sync.", "error")
        return redirect(url_for("accounts.index"))
    queue_sync(account, full=full)
    runtime().sync_account(account.id)  # ids only: no credential enters the queue
    audit("sync_queued", account.name, "full" if full else "incremental")
    flash(
        f"{'Full' if full else 'Incremental'} sync of {account.name} queued; "
        "the progress bar follows it.",
        "success",
    )
    return redirect(url_for("accounts.index"))


@bp.route("/<int:account_id>/progress")
def progress(account_id: int):
    """The account's progress bar; it polls every second while the sync runs."""
    account = _account(account_id)
    return render_template(
        "accounts/_progress.html",
        a=account,
        active=is_active(account),
        stale_queue=stale_queue,
    )


@bp.route("/sync-status")
def sync_status():
    """Every account's status and sync progress (a fragment, also for the dashboard)."""
    accounts = list(SellerAccount.select().order_by(SellerAccount.name))
    return render_template(
        "accounts/_sync_status.html",
        accounts=accounts,
        is_active=is_active,
        stale_queue=stale_queue,
        any_active=any(is_active(a) for a in accounts),
    )


@bp.route("/import", methods=["POST"])
@requires("editor")
def import_file():
    """Import a Seller Central "All Orders" report file into an account."""
    upload = request.files.get("file")
    account_name = request.form.get("account", "").strip()
    source_name = request.form.get("source", "")
    problem = ""
    if upload is None or not upload.filename:
        problem = "Choose the All Orders report file (.txt or .tsv) to import."
    elif not account_name:
        problem = "Name the account the orders belong to."
    elif source_name not in _import_sources():
        problem = "That order source cannot import files."
    if problem:
        flash(problem, "error")
        return _index_422()
    # Creating a seller account is an admin's action (as on the Accounts form): an editor
    # imports into an existing account only.
    is_admin = ROLE_RANK.get(current_user().role, -1) >= ROLE_RANK["admin"]
    is_new = not SellerAccount.select().where(SellerAccount.name == account_name).exists()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (secure_filename(upload.filename) or "orders.txt")
        upload.save(path)
        try:
            text = import_orders(engine(), path, account_name, source_name, create_account=is_admin)
        except ImportError_ as exc:
            # The message names the file: the name the seller chose, not our temp path.
            shown = str(exc).replace(str(path), upload.filename)
            head = "Import stopped" if exc.stored else "Nothing imported"
            flash(f"{head}: {shown}", "error")
            return _index_422()
    if is_new:
        audit("account_created", account_name, f"by an order import ({source_name})")
    audit("orders_imported", account_name, text)
    flash(text, "success")
    return redirect(url_for("accounts.index"))


def _index_422():
    body = index()
    return body, 422
