"""Seller accounts: what a valid account is, saving one, when one may be deleted, and
its state as the dashboard shows it (problems, recovery, queued syncs).

The web form, the CLI and plugins share these rules. Functions take plain values and
answer with errors keyed by field name (``name``, ``region``, ``marketplaces``, one per
credential field, ...), so a form can show each next to its field.

Credentials go in through ``core.credentials.save_account_credentials`` (encrypted) and
never come back out of here: ``stored_credentials`` says which ones are stored, not
their values. Channels mark an account when its credentials stop working; fixing it (new
credentials, a successful sync or Test connection) re-queues the messages that waited
for it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from peewee import fn

from . import compliance
from .clock import utcnow
from .contracts import IN_DOUBT, RETRY, SCHEDULED, SENDING, SENT
from .credentials import account_credentials, save_account_credentials
from .crypto import CredentialError, redact
from .db import write_transaction
from .models import Campaign, Message, Order, SellerAccount

log = logging.getLogger(__name__)

# How a channel says that a message waits for its seller account rather than for Amazon
# or the buyer (credentials revoked or wrong, access denied): a postponed message's
# reason starts with "waiting: " + this, a retry's error with this. Fixing the account
# re-queues exactly those messages (``requeue_account_messages``).
ACCOUNT_PROBLEM = "the seller account needs attention"


REGIONS = {"NA": "North America", "EU": "Europe", "FE": "Far East"}
# The Login with Amazon (LWA) app credentials plus the seller's refresh token
# (docs/amazon-rules.md §7): what python-amazon-sp-api needs, under the names the order
# source reads. (key, label, placeholder)
CREDENTIAL_FIELDS = (
    ("lwa_app_id", "LWA client id", "amzn1.application-oa2-client.…"),
    ("lwa_client_secret", "LWA client secret", ""),
    ("refresh_token", "Refresh token", "Atzr|…"),
)
# Every credential but the client id is a secret.
SECRET_FIELDS = frozenset(key for key, _label, _hint in CREDENTIAL_FIELDS if key != "lwa_app_id")
# Sources whose accounts need SP-API credentials and a region (one region per account:
# an SP-API refresh token is valid for one region's endpoint only).
API_SOURCES = ("amazon",)
NAME_MAX = 120
ADDRESS_MAX = 255
ALLOWED_WORDS_MAX = 500
ALLOWED_WORD_LENGTH = 60
_ALLOWED_WORD = re.compile(r"[^\W_][\w'’&.+-]*")
# Message states whose history must outlive the account: ``sent``; ``in_doubt``, which
# may have reached the buyer; ``sending``, which may reach them any moment now.
KEPT_STATES = (SENT, IN_DOUBT, SENDING)


@dataclass
class AccountValues:
    """What a seller enters for an account (credentials apart)."""

    name: str = ""
    source: str = "amazon"
    region: str = ""
    marketplaces: list[str] = field(default_factory=list)
    test_address: str = ""
    allowed_words: str = ""

    @classmethod
    def of(cls, account: SellerAccount) -> AccountValues:
        """The values an existing account holds."""
        return cls(
            name=account.name,
            source=account.source,
            region=account.region or "",
            marketplaces=list(account.marketplaces or []),
            test_address=account.test_address or "",
            allowed_words=account.allowed_words or "",
        )


class AccountInvalid(ValueError):
    """The values cannot be saved; ``errors`` maps each field name to what to fix."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class DeletionRefused(ValueError):
    """The account may not be deleted; the message says why and what to do instead."""


@dataclass(frozen=True)
class StoredCredentials:
    """Which credentials an account holds, never their values."""

    keys: frozenset[str] = frozenset()
    unreadable: bool = False  # stored, but the encryption key in force cannot open them
    app_id_hint: str = ""  # the client id's redacted end: not a secret, enough to recognise


@dataclass(frozen=True)
class SavedAccount:
    """An account as saved, whether it was new, and which credential fields were set."""

    account: SellerAccount
    created: bool
    credentials_set: tuple[str, ...]  # the credential fields typed in now, sorted


def account_sources(engine) -> dict:
    """Order sources an account can be connected to (those that can fetch orders)."""
    return {n: s for n, s in engine.sources.items() if s.fetch is not None}


def marketplaces_by_region(engine) -> dict[str, list]:
    """The enabled marketplaces grouped by SP-API region (NA, EU, FE), each group sorted
    by code: an account's credentials serve one region, so the forms offer one group."""
    groups: dict[str, list] = {}
    for mkt in sorted(engine.marketplaces.values(), key=lambda m: (m.region, m.code)):
        groups.setdefault(mkt.region, []).append(mkt)
    return groups


def stored_credentials(engine, account: SellerAccount | None) -> StoredCredentials:
    """Which credentials ``account`` has stored (none for a new account)."""
    if account is None or not account.credentials:
        return StoredCredentials()
    try:
        creds = account_credentials(engine, account, check_binding=False)
    except CredentialError:
        return StoredCredentials(unreadable=True)
    app_id = creds.get("lwa_app_id")
    return StoredCredentials(
        keys=frozenset(k for k, _label, _hint in CREDENTIAL_FIELDS if creds.get(k)),
        app_id_hint=redact(app_id) if app_id else "",
    )


def allowed_words_error(text: str) -> str:
    """Why the product and brand names cannot be saved, or "" (each a word, at most 60
    characters, at most 500 names)."""
    words = compliance.allowed_words(text)
    if len(words) > ALLOWED_WORDS_MAX:
        return f"Enter at most {ALLOWED_WORDS_MAX} names (there are {len(words)})."
    for word in words:
        if len(word) > ALLOWED_WORD_LENGTH or not _ALLOWED_WORD.fullmatch(word):
            return (
                f"{word[:ALLOWED_WORD_LENGTH]!r} cannot be a product or brand name: use "
                "letters, digits and - . & ' + (at most 60 characters each)."
            )
    return ""


def _name_error(name: str, account: SellerAccount | None) -> str:
    if not name:
        return "Give the account a name, e.g. your store name and region."
    if len(name) > NAME_MAX:
        return f"Use at most {NAME_MAX} characters."
    others = SellerAccount.select().where(
        (SellerAccount.name == name) & (SellerAccount.id != (account.id if account else 0))
    )
    return "Another account already has this name." if others.exists() else ""


def _marketplaces_error(engine, chosen: list[str], region: str) -> str:
    known = engine.marketplaces
    if not chosen:
        return "Tick at least one marketplace you sell in."
    if unknown := [c for c in chosen if c not in known]:
        return f"Unknown marketplace: {', '.join(unknown)}."
    if region in REGIONS:
        # One SP-API refresh token serves one region: other regions need their own account.
        wrong = [c for c in chosen if known[c].region != region]
        if wrong:
            return (
                f"{', '.join(wrong)} not in region {region}: "
                "connect a separate account for that region."
            )
    return ""


def validate_account(
    engine,
    values: AccountValues,
    credentials: dict[str, str] | None = None,
    account: SellerAccount | None = None,
) -> dict[str, str]:
    """Field errors of ``values`` for a new account or for ``account`` ({} if none).

    ``credentials`` holds the credential fields typed in now; a field left out keeps the
    stored value, so an account that needs credentials is refused only when a field is
    neither typed nor stored (or stored under a key that can no longer open it).
    """
    credentials = {k: v for k, v in (credentials or {}).items() if v}
    checks = {
        "name": _name_error(values.name, account),
        "allowed_words": allowed_words_error(values.allowed_words),
    }
    sources = account_sources(engine)
    if values.source not in sources:
        checks["source"] = f"Choose one of: {', '.join(sources) or 'no order source loaded'}."
    needs_api = values.source in API_SOURCES
    if values.region and values.region not in REGIONS:
        checks["region"] = "Choose NA, EU or FE."
    elif needs_api and not values.region:
        checks["region"] = "Choose the region your seller account is registered in."
    checks["marketplaces"] = _marketplaces_error(engine, values.marketplaces, values.region)
    address = values.test_address
    if address and ("@" not in address or len(address) > ADDRESS_MAX or " " in address):
        checks["test_address"] = "Enter an address such as you@example.com, or leave it empty."
    if needs_api:
        stored = stored_credentials(engine, account)
        for key, label, _hint in CREDENTIAL_FIELDS:
            if key not in credentials and (stored.unreadable or key not in stored.keys):
                checks[key] = f"Enter the {label}."
    return {name: error for name, error in checks.items() if error}


def save_account(
    engine,
    values: AccountValues,
    credentials: dict[str, str] | None = None,
    account: SellerAccount | None = None,
) -> SavedAccount:
    """Create an account (``account`` None) or update ``account`` from ``values``.

    Credential fields typed in replace the stored ones; blank or absent fields keep
    them. Raises ``AccountInvalid`` with the field errors, saving nothing.
    """
    typed = {k: v.strip() for k, v in (credentials or {}).items() if v and v.strip()}
    errors = validate_account(engine, values, typed, account)
    if errors:
        raise AccountInvalid(errors)
    created = account is None
    if created:
        account = SellerAccount(status="new")
    account.name = values.name
    account.source = values.source
    account.region = values.region
    account.marketplaces = sorted(values.marketplaces)
    account.test_address = values.test_address
    account.allowed_words = "\n".join(compliance.allowed_words(values.allowed_words))
    account.save()
    if typed:
        try:
            creds = {} if created else account_credentials(engine, account, check_binding=False)
        except CredentialError:
            creds = {}
        creds.update(typed)
        # Secrets typed in now are bound to the connection settings in force; a save that
        # leaves them blank keeps the old binding (core.credentials).
        save_account_credentials(
            engine, account, creds, rebind=created or SECRET_FIELDS <= set(typed)
        )
        if not created:
            # Messages postponed because the old credentials failed need not wait for
            # their day-long re-check: the new ones are tried at the next dispatch.
            requeue_account_messages(account, "re-queued: credentials were updated")
    return SavedAccount(account, created, tuple(sorted(typed)))


def _kept_messages(account: SellerAccount):
    return Message.select(Message.id).where(
        (Message.account == account.id) & Message.state.in_(KEPT_STATES)
    )


def deletion_blocker(account: SellerAccount) -> str:
    """Why ``account`` may not be deleted, or "".

    Its campaigns must go first (they would be left pointing at nothing). And the
    message history of a real account is what stops a second message to the same buyer
    if the account is connected again: an account with a message sent, in doubt or being
    sent is kept. A demo account's messages reached no buyer, so it may go.
    """
    campaigns = list(Campaign.select(Campaign.name).where(Campaign.account == account.id))
    if campaigns:
        return (
            f"Campaigns {', '.join(c.name for c in campaigns)} belong to this account: "
            "delete them or move them to another account first."
        )
    if not account.is_demo:
        sent = _kept_messages(account).count()
        if sent:
            return (
                f"{sent} messages were sent for this account. Followup keeps their history "
                "so a reconnected account never messages a buyer twice; edit the account "
                "instead."
            )
    return ""


def delete_account(account: SellerAccount) -> int:
    """Delete ``account`` with its orders, messages and their trace; returns how many
    orders went. Raises ``DeletionRefused`` when ``deletion_blocker`` says no.

    The DELETE itself repeats the message condition, so a message the worker claims
    between the check and the delete keeps the account (and its history) in place.
    """
    with write_transaction():  # on SQLite the write lock first: no claim in between
        blocker = deletion_blocker(account)
        if blocker:
            raise DeletionRefused(blocker)
        orders = Order.select().where(Order.account == account.id).count()
        query = SellerAccount.delete().where(SellerAccount.id == account.id)
        if not account.is_demo:
            query = query.where(~fn.EXISTS(_kept_messages(account)))
        if not query.execute():  # orders, messages and their trace cascade in the database
            raise DeletionRefused(deletion_blocker(account) or "The account is already gone.")
    return orders


def mark_account(account, status: str, message: str) -> None:
    """Show an account problem (or recovery) on the dashboard and in ``doctor``."""
    SellerAccount.update(status=status, status_message=message).where(
        SellerAccount.id == account.id
    ).execute()


def requeue_account_messages(account, reason: str) -> int:
    """Make the account's messages that wait on an account problem due now.

    Called when the seller saved new credentials, or the account worked again (a
    successful sync or Test connection): without it they would sit out the day-long
    re-check they were postponed by. Only ``scheduled`` and ``retry`` messages move, in
    one conditional UPDATE, so a message being sent or already sent is never touched;
    ``reason`` (e.g. "re-queued: credentials were updated") replaces the waiting reason.
    Returns how many messages were re-queued.
    """
    now = utcnow()
    waiting = Message.reason.startswith(f"waiting: {ACCOUNT_PROBLEM}")
    retrying = (Message.state == RETRY) & Message.error.startswith(ACCOUNT_PROBLEM)
    count = (
        Message.update(due_at=now, next_attempt_at=now, reason=reason, updated_at=now)
        .where(
            (Message.account == account.id)
            & Message.state.in_([SCHEDULED, RETRY])
            & (waiting | retrying)
        )
        .execute()
    )
    if count:
        log.info("account %s: %d message(s) %s", account.id, count, reason)
    return count


def queue_sync(account, *, full: bool = False) -> None:
    """Mark an account's sync as queued; a full sync re-reads from the first-sync horizon.

    A full sync forgets the cursor, so the next sync (this one, or a later one if this
    fails) starts again from the order source's first-sync window; storing is idempotent.
    """
    queued = {"done": 0, "total": None, "text": "queued", "queued_at": utcnow().isoformat()}
    values = {"sync_progress": queued}
    if full:
        values["sync_cursor"] = None
    SellerAccount.update(**values).where(SellerAccount.id == account.id).execute()
