"""Seller accounts: connect, credentials, test connection, sync with live progress, import.

What a valid account is, saving one and when one may be deleted are ``core.accounts``'
rules; this module parses the forms and shows core's field errors next to their fields.
Credentials go in encrypted and never come back out: the forms show "stored — leave
blank to keep" instead of the values, and no page, fragment or flash message ever
contains a secret.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename

from core.accounts import (
    API_SOURCES,
    CREDENTIAL_FIELDS,
    REGIONS,
    AccountInvalid,
    AccountValues,
    DeletionRefused,
    account_sources,
    delete_account,
    deletion_blocker,
    mark_account,
    marketplaces_by_region,
    queue_sync,
    requeue_account_messages,
    save_account,
    stored_credentials,
)
from core.crypto import CredentialError
from core.importer import OrderImportError, import_orders, may_create_account
from core.models import Order, SellerAccount
from core.sync import sync_in_progress, sync_queue_is_stale

from .audit import audit
from .context import engine, runtime
from .security import current_user, requires

log = logging.getLogger(__name__)

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def _account(account_id: int) -> SellerAccount:
    account = SellerAccount.get_or_none(SellerAccount.id == account_id)
    if account is None:
        abort(404, description="No such seller account.")
    return account


def _sources() -> dict:
    """Order sources an account can be connected to (those that can fetch orders)."""
    return account_sources(engine())


def _import_sources() -> dict:
    return {n: s for n, s in engine().sources.items() if s.import_file is not None}


def _stored_hints(account: SellerAccount | None) -> dict[str, str]:
    """What the form may say about stored credentials: never a secret, at most a hint."""
    stored = stored_credentials(engine(), account)
    if stored.unreadable:
        return {k: "cannot be decrypted — enter it again" for k, _, _ in CREDENTIAL_FIELDS}
    hints = {k: "stored — leave blank to keep" for k in stored.keys}
    if stored.app_id_hint:
        # The client id is not a secret, but its end is enough to recognise it.
        hints["lwa_app_id"] = f"stored ({stored.app_id_hint}) — leave blank to keep"
    return hints


def _form_values(account: SellerAccount | None) -> dict:
    """The form's values: as posted, else the account's, else a new account's defaults."""
    if request.method == "POST":
        return {
            "name": request.form.get("name", "").strip(),
            "source": request.form.get("source", ""),
            "region": request.form.get("region", ""),
            "marketplaces": request.form.getlist("marketplaces"),
            "test_address": request.form.get("test_address", "").strip(),
            "allowed_words": request.form.get("allowed_words", "").strip(),
        }
    return asdict(AccountValues.of(account) if account else AccountValues())


def _typed_credentials() -> dict[str, str]:
    """The credential fields typed in this form (blank ones keep the stored values)."""
    typed = {k: request.form.get(k, "").strip() for k, _, _ in CREDENTIAL_FIELDS}
    return {k: v for k, v in typed.items() if v}


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
            groups=marketplaces_by_region(engine()),
            credential_fields=CREDENTIAL_FIELDS,
            stored=_stored_hints(account),
        ),
        status,
    )


def _save(account: SellerAccount | None) -> SellerAccount | tuple:
    values = _form_values(account)
    try:
        saved = save_account(
            engine(),
            AccountValues(**values),
            _typed_credentials(),
            account,
        )
    except AccountInvalid as exc:
        flash("The account was not saved: correct the fields marked below.", "error")
        return _render_form(account, values, exc.errors, 422)
    account, created = saved.account, saved.created
    changed = ", ".join(saved.credentials_set) or "no credentials"
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
        is_active=sync_in_progress,
        stale_queue=sync_queue_is_stale,
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
    blocker = deletion_blocker(account)
    if request.method == "POST" and not blocker:
        name = account.name
        try:
            orders = delete_account(account)
        except DeletionRefused as exc:  # a message was claimed since the check
            blocker = str(exc)
        else:
            audit("account_deleted", name, f"{orders} orders deleted")
            flash(f"Account {name} deleted with its {orders} orders.", "success")
            return redirect(url_for("accounts.index"))
    refused = request.method == "POST"
    if refused:
        flash(blocker, "error")
    page = render_template("accounts/delete.html", account=account, orders=orders, blocker=blocker)
    return page, 409 if refused else 200


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
    if sync_in_progress(account):
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
        active=sync_in_progress(account),
        stale_queue=sync_queue_is_stale,
    )


@bp.route("/sync-status")
def sync_status():
    """Every account's status and sync progress (a fragment, also for the dashboard)."""
    accounts = list(SellerAccount.select().order_by(SellerAccount.name))
    return render_template(
        "accounts/_sync_status.html",
        accounts=accounts,
        is_active=sync_in_progress,
        stale_queue=sync_queue_is_stale,
        any_active=any(sync_in_progress(a) for a in accounts),
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
    may_create = may_create_account(current_user().role)
    is_new = not SellerAccount.select().where(SellerAccount.name == account_name).exists()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (secure_filename(upload.filename) or "orders.txt")
        upload.save(path)
        try:
            text = import_orders(
                engine(), path, account_name, source_name, create_account=may_create
            )
        except OrderImportError as exc:
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
