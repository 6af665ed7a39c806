"""Secrets at rest: seller credentials are Fernet-encrypted with ``[security] encryption_key``.

The key never lives in the database: it comes from an environment variable or a key
file (config.toml), so a copied database file reveals no credential.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken


class CredentialError(Exception):
    """Stored credentials cannot be decrypted (wrong or rotated key)."""


def _fernet(settings) -> Fernet:
    return Fernet(settings.get("security", "encryption_key").encode())


def encrypt_json(settings, value: dict) -> bytes:
    return _fernet(settings).encrypt(json.dumps(value).encode())


def decrypt_json(settings, blob: bytes | None) -> dict:
    if not blob:
        return {}
    try:
        return json.loads(_fernet(settings).decrypt(bytes(blob)))
    except InvalidToken as exc:
        raise CredentialError(
            "stored credentials cannot be decrypted: [security] encryption_key changed? "
            "Restore the old key or enter the credentials again."
        ) from exc


def redact(value: str) -> str:
    """Show the last 4 characters only, for the UI and logs."""
    return "…" + value[-4:] if value and len(value) > 8 else "…"
