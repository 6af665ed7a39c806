"""Seller account credentials: stored encrypted, and bound to where they may be sent.

Plain credentials never reach the database (``core.crypto`` seals them with the
installation's key). Each account's secrets also carry a fingerprint of its plugin's
``guards_secrets`` settings (endpoint, token URL) as they were when the seller typed the
secrets in: when those settings change, the secrets are refused rather than sent to the
new address.
"""

from __future__ import annotations

import hashlib
import json

from .crypto import CredentialError, decrypt_json, encrypt_json

BINDING_KEY = "_bound_to"  # inside the encrypted credentials: where they may be sent


def account_credentials(engine, account, *, check_binding: bool = True) -> dict:
    """The account's decrypted credentials (for order-source and sender plugins only).

    Raises ``core.crypto.CredentialError`` naming what to do when the key changed, or
    (``check_binding``) when the plugin's endpoint settings changed since the secrets
    were entered (``secrets_binding_problem``): a plugin then never sends them to the
    new address. The Accounts form reads them without that check, to keep what the
    seller does not type again.
    """
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
    return encrypt_json(engine.settings, credentials)


def save_account_credentials(engine, account, credentials: dict, *, rebind: bool = True) -> None:
    """Encrypt and store credentials; plain text never reaches the database.

    ``rebind``: the secrets were typed in now, so they are bound to the plugin's
    ``guards_secrets`` settings in force (``secrets_binding_problem``); without it the
    binding they had is kept (a form saved without re-entering them).
    """
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


def secrets_binding(engine, plugin: str, *, from_config: bool = False) -> str:
    """A fingerprint of ``plugin``'s ``guards_secrets`` settings (endpoint, token URL):
    in force, or as config.toml and the defaults give them (``from_config``)."""
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
