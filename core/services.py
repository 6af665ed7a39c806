"""Operations plugins (and the web admin) may perform on the core's data.

Plugins import from ``core`` (types, ``hookimpl``), read ``core.models``, and change
state only through these functions, so every change leaves a reason in the trace.
"""

from __future__ import annotations

import logging

from peewee import IntegrityError

from .clock import utcnow
from .contracts import RETRY, SCHEDULED
from .db import database
from .models import AuditLog, Message, OptOut, Order

log = logging.getLogger(__name__)


def find_order(order_id: str) -> Order | None:
    """The order with Amazon's id ``order_id`` (any account), or None."""
    return Order.select().where(Order.order_id == order_id).first()


def stop_order_messages(order: Order, reason: str, *, by: str = "") -> int:
    """Cancel every not-yet-sent message of ``order``; future planning skips it too.

    Returns the number of messages cancelled. ``reason`` is shown in the order trace.
    """
    with database.atomic():
        Order.update(messages_stopped=True).where(Order.id == order.id).execute()
        count = (
            Message.update(state="cancelled", reason=reason, updated_at=utcnow())
            .where((Message.order == order) & Message.state.in_([SCHEDULED, RETRY]))
            .execute()
        )
        AuditLog.create(user=by, action="order_stopped", target=order.order_id, detail=reason)
    order.messages_stopped = True
    return count


def add_opt_out(buyer_key: str, kind: str = "opt_out", reason: str = "", *, by: str = "") -> bool:
    """Put a buyer on the opt-out list (Amazon) or the seller's blocklist.

    Returns False when the buyer was already on that list.
    """
    if kind not in ("opt_out", "blocklist"):
        raise ValueError(f"kind must be opt_out or blocklist, not {kind!r}")
    if not buyer_key:
        raise ValueError("buyer_key is empty: the order has no buyer identity")
    try:
        with database.atomic():
            OptOut.create(buyer_key=buyer_key, kind=kind, reason=reason)
            AuditLog.create(user=by, action=f"buyer_{kind}", target=buyer_key, detail=reason)
    except IntegrityError:
        return False
    return True


def account_credentials(engine, account, *, check_binding: bool = True) -> dict:
    """The account's decrypted credentials (for order-source and sender plugins only).

    Raises ``core.crypto.CredentialError`` naming what to do when the key changed, or
    (``check_binding``) when the plugin's endpoint settings changed since the secrets
    were entered (``secrets_binding_problem``): a plugin then never sends them to the
    new address. The Accounts form reads them without that check, to keep what the
    seller does not type again.
    """
    from .crypto import CredentialError, decrypt_json

    found = decrypt_json(engine.settings, account.credentials)
    if check_binding:
        moved = secrets_binding_problem(engine, account, found)
        if moved:
            raise CredentialError(moved)
    found.pop(BINDING_KEY, None)  # core's own record, not a credential
    return found


def sealed_credentials(engine, credentials: dict) -> bytes:
    """Credentials as an account stores them (encrypted), without saving anything: for a
    plugin checking credentials a seller is still typing."""
    from .crypto import encrypt_json

    return encrypt_json(engine.settings, credentials)


def save_account_credentials(engine, account, credentials: dict, *, rebind: bool = True) -> None:
    """Encrypt and store credentials; plain text never reaches the database.

    ``rebind``: the secrets were typed in now, so they are bound to the plugin's
    ``guards_secrets`` settings in force (``secrets_binding_problem``); without it the
    binding they had is kept (a form saved without re-entering them).
    """
    from .crypto import CredentialError, decrypt_json, encrypt_json

    credentials = dict(credentials)
    if rebind:
        credentials[BINDING_KEY] = secrets_binding(engine, account.source)
    elif account.credentials:
        try:
            old = decrypt_json(engine.settings, account.credentials).get(BINDING_KEY)
        except CredentialError:
            old = None
        if old:
            credentials[BINDING_KEY] = old
    account.credentials = encrypt_json(engine.settings, credentials)
    account.save()


BINDING_KEY = "_bound_to"  # inside the encrypted credentials: where they may be sent


def secrets_binding(engine, plugin: str, *, from_config: bool = False) -> str:
    """A fingerprint of ``plugin``'s ``guards_secrets`` settings (endpoint, token URL):
    in force, or as config.toml and the defaults give them (``from_config``)."""
    import hashlib
    import json

    page = engine.settings_pages.get(plugin)
    guarded = [f for f in page.fields if f.guards_secrets] if page else []
    if from_config:
        table = engine.settings.section("plugin_settings").get(plugin, {})
        values = {f.key: table.get(f.key, f.default) for f in guarded}
    else:
        current = engine.plugin_settings(plugin)
        values = {f.key: current.get(f.key, f.default) for f in guarded}
    text = json.dumps({k: str(v or "") for k, v in values.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def secrets_binding_problem(engine, account, stored: dict) -> str | None:
    """Why ``account``'s secrets (``stored``: its decrypted credentials) must not be used
    with the settings in force: its plugin's endpoint settings changed since they were
    entered (None: they did not). Secrets entered before bindings existed count as
    entered for config.toml's values."""
    bound = stored.get(BINDING_KEY) or secrets_binding(engine, account.source, from_config=True)
    if bound == secrets_binding(engine, account.source):
        return None
    page = engine.settings_pages.get(account.source)
    keys = ", ".join(f.key for f in page.fields if f.guards_secrets) if page else "endpoint"
    return (
        f"the {account.source} connection settings ({keys}) changed since this account's "
        "secrets were entered: enter them again on the Accounts page"
    )


def mark_account(account, status: str, message: str) -> None:
    """Show an account problem (or recovery) on the dashboard and in ``doctor``."""
    from .models import SellerAccount

    SellerAccount.update(status=status, status_message=message).where(
        SellerAccount.id == account.id
    ).execute()


# How a channel says that a message waits for its seller account rather than for Amazon
# or the buyer (credentials revoked or wrong, access denied): a postponed message's
# reason starts with "waiting: " + this, a retry's error with this. Fixing the account
# re-queues exactly those messages (``requeue_account_messages``).
ACCOUNT_PROBLEM = "the seller account needs attention"


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


# -- web admin helpers (accounts, plugins, users) ----------------------------------

SECRET_MARK = "fernet"  # a label shown for stored secrets, not a secret  # nosec B105


def seal_secret(engine, value: str) -> dict:
    """A plugin-setting secret (a password) as stored: Fernet-encrypted, never plain text.

    ``Engine.plugin_setting`` hands plugins the decrypted text through ``open_secret``.
    """
    from .crypto import encrypt_json

    return {SECRET_MARK: encrypt_json(engine.settings, {"v": value}).decode()}


def is_sealed(value) -> bool:
    """Whether a stored plugin-setting value is a secret sealed by ``seal_secret``."""
    return isinstance(value, dict) and set(value) == {SECRET_MARK}


def open_secret(engine, value):
    """The plain value of a sealed secret; any other value is returned unchanged."""
    if not is_sealed(value):
        return value
    from .crypto import decrypt_json

    return decrypt_json(engine.settings, value[SECRET_MARK].encode()).get("v", "")


def set_plugin_enabled(
    engine, plugin: str, marketplace: str, enabled: bool, *, by: str = ""
) -> None:
    """Turn ``plugin`` on or off for one marketplace (the Plugins page's toggle).

    Stored as the ``enabled`` plugin setting the engine reads; a restriction in
    config.toml (``[plugins.marketplaces]``) still wins over this toggle.
    """
    if marketplace not in engine.marketplaces:
        raise ValueError(f"unknown marketplace {marketplace!r}")
    engine.set_plugin_setting(plugin, "enabled", bool(enabled), marketplace)  # invalidates
    AuditLog.create(
        user=by,
        action="plugin_enabled" if enabled else "plugin_disabled",
        target=f"{plugin}/{marketplace}",
    )


def plugin_toggles(engine) -> dict[tuple[str, str], bool]:
    """The toggles stored from the Plugins page: (plugin, marketplace) -> enabled."""
    return {key: on for key, on in engine.stored_toggles().items() if key[1]}


def stored_plugin_settings(plugin: str, marketplace: str = "") -> dict:
    """The values saved from a plugin's settings page for one scope ("" = every marketplace)."""
    from .models import PluginSetting

    rows = PluginSetting.select().where(
        (PluginSetting.plugin == plugin)
        & (PluginSetting.marketplace == marketplace)
        & (PluginSetting.key != "enabled")
    )
    return {r.key: r.value for r in rows}


def clear_plugin_setting(plugin: str, key: str, marketplace: str = "") -> None:
    """Remove a stored value so the scope falls back (marketplace -> global -> config)."""
    from .models import PluginSetting

    PluginSetting.delete().where(
        (PluginSetting.plugin == plugin)
        & (PluginSetting.marketplace == marketplace)
        & (PluginSetting.key == key)
    ).execute()


def queue_sync(account, *, full: bool = False) -> None:
    """Mark an account's sync as queued; a full sync re-reads from the first-sync horizon.

    A full sync forgets the cursor, so the next sync (this one, or a later one if this
    fails) starts again from the order source's first-sync window; storing is idempotent.
    """
    from .models import SellerAccount

    queued = {"done": 0, "total": None, "text": "queued", "queued_at": utcnow().isoformat()}
    values = {"sync_progress": queued}
    if full:
        values["sync_cursor"] = None
    SellerAccount.update(**values).where(SellerAccount.id == account.id).execute()


# -- outbox actions (web admin: Messages and Orders pages) -------------------------


def retry_message(message, *, by: str = "") -> bool:
    """Put a failed message back in the queue, due now; dispatch re-checks every rule.

    Returns False when the message is no longer failed (someone else acted first).
    Only ``failed`` qualifies: a failure is a proven non-send, so a retry cannot make
    the buyer receive it twice (in-doubt messages go through ``resolve_in_doubt``).
    """
    from .contracts import FAILED

    now = utcnow()
    with database.atomic():
        changed = (
            Message.update(
                state=SCHEDULED,
                due_at=now,
                attempts=0,
                error="",
                reason=f"retry requested by {by or 'a person'}",
                updated_at=now,
            )
            .where((Message.id == message.id) & (Message.state == FAILED))
            .execute()
        )
        if changed:
            AuditLog.create(
                user=by, action="message_retried", target=f"message {message.id}", detail=""
            )
    return bool(changed)


def resolve_in_doubt(message, sent: bool, *, by: str = "") -> bool:
    """A person settles an in-doubt message: ``sent=True`` records it as sent (nothing
    goes out); ``sent=False`` queues it again, which may reach the buyer twice when the
    first call did go out, so the web page asks for an explicit confirmation first.

    Returns False when the message is no longer in doubt.
    """
    from .contracts import IN_DOUBT, SENT

    now = utcnow()
    who = by or "a person"
    if sent:
        values = dict(state=SENT, sent_at=now, reason=f"marked as sent by {who}")
    else:
        values = dict(
            state=SCHEDULED,
            due_at=now,
            attempts=0,
            reason=f"send again confirmed by {who} (may reach the buyer twice)",
        )
    with database.atomic():
        changed = (
            Message.update(updated_at=now, lease_until=None, lease_owner="", **values)
            .where((Message.id == message.id) & (Message.state == IN_DOUBT))
            .execute()
        )
        if changed:
            AuditLog.create(
                user=by,
                action="in_doubt_marked_sent" if sent else "in_doubt_sent_again",
                target=f"message {message.id}",
                detail=values["reason"],
            )
    return bool(changed)


def cancel_message(message, reason: str = "", *, by: str = "") -> bool:
    """Withdraw a scheduled (or retrying) message; returns False when it already left
    that state (claimed, sent or cancelled in the meantime)."""
    now = utcnow()
    why = reason or f"cancelled by {by or 'a person'}"
    with database.atomic():
        changed = (
            Message.update(state="cancelled", reason=why, updated_at=now)
            .where((Message.id == message.id) & Message.state.in_([SCHEDULED, RETRY]))
            .execute()
        )
        if changed:
            AuditLog.create(
                user=by, action="message_cancelled", target=f"message {message.id}", detail=why
            )
    return bool(changed)


def send_step_now(engine, order, step, *, by: str = "") -> tuple[bool, str]:
    """Send one campaign step for one order now, skipping its delay and send window.

    Everything else still applies: the step's rules and every send veto (Amazon's review
    window, the daily limit, opt-outs, one review request per order), judged by
    ``core.decide`` as at any send, and the never-twice guarantee, because the message is
    claimed and sent through ``core.dispatch``. Returns ``(sent_or_queued, explanation)``;
    when nothing happened the explanation says why.
    """
    from .contracts import is_review_request
    from .decide import SEND, SEND_NOW, decide, effective_sender, is_dry_run
    from .dispatch import CLAIM_LOST, claim_one, process, worker_id
    from .planning import pick_variant, release_dry_runs

    campaign = step.campaign
    if campaign.status not in ("active", "test"):
        return False, f"campaign {campaign.name!r} is {campaign.status}: activate it first"
    if campaign.account_id and campaign.account_id != order.account_id:
        return False, "this campaign belongs to another seller account"
    existing = Message.get_or_none((Message.order == order.id) & (Message.step == step.id))
    if existing is not None and existing.state not in (SCHEDULED, RETRY):
        if not (existing.dry_run and release_dry_runs(engine, step, existing.id)):
            return False, (
                f"this step already has a message in state {existing.state} "
                f"({existing.reason or existing.error or 'no reason recorded'}); "
                "a step is sent at most once per order"
            )
        existing = None  # a test send does not use up the live step
    verdict = decide(engine, order, step, mode=SEND_NOW, message=existing)
    if verdict.outcome != SEND:
        return False, verdict.reason
    sender = effective_sender(engine, step, order)
    now = utcnow()
    with database.atomic():
        if existing is None:
            Message.insert(
                order=order,
                step=step,
                campaign=step.campaign_id,
                account=order.account_id,
                state=SCHEDULED,
                variant=pick_variant(order, step),
                due_at=now,
                priority=step.priority,
                sender=sender,
                dry_run=is_dry_run(engine, sender),
                review_request=is_review_request(engine, step),
            ).on_conflict_ignore().execute()
        row = Message.get((Message.order == order.id) & (Message.step == step.id))
        AuditLog.create(
            user=by,
            action="step_sent_now",
            target=order.order_id,
            detail=f"step {step.id} ({step.name or step.trigger}), message {row.id}",
        )
    # The same fenced claim as the dispatcher's: only one worker or person wins it.
    claim = claim_one(engine, worker_id(), row.id)
    if claim is None:
        return False, "a worker claimed this message at the same moment; see its state below"
    state = process(engine, claim)
    if state == CLAIM_LOST:
        return False, "a worker took this message over; see its state below"
    message = Message.get_by_id(row.id)
    detail = message.reason or message.error
    outcome = f"{state}{': ' + detail if detail else ''}"
    # The step's decision said "planned for <later>" or "waiting": the trace must show
    # what Send now did instead, not the plan it replaced.
    from .planning import _decide

    kind = "excluded" if state in ("skipped", "cancelled") else "planned"
    _decide(order, step, kind, f"sent now by {by or 'a person'}: {outcome}", "send now")
    return state == "sent", outcome
