"""A lost encryption key is not a new one.

``encryption_key = { file = ..., generate = true }`` writes a fresh key when the file is
missing, which is right on a first start and wrong when the database already holds
credentials encrypted with the old key: a new key would make every stored credential
unreadable, silently. Then start-up stops, the generated file is removed again, and the
message says to restore the key from a backup (``followup restore``).
"""

from __future__ import annotations

from pathlib import Path

from .config import ConfigError
from .models import SellerAccount


def encrypted_accounts(db) -> int:
    """Seller accounts whose credentials are stored (encrypted); 0 before ``init``."""
    if not db.table_exists(SellerAccount._meta.table_name):
        return 0
    return SellerAccount.select().where(SellerAccount.credentials.is_null(False)).count()


def lost_key_message(path: Path, count: int) -> str:
    return (
        f"[security] encryption_key: the key file {path} is missing, but the database holds "
        f"encrypted credentials of {count} account(s): that key was lost, not new. Restore "
        f"the file from your backup (followup restore ARCHIVE --keys-only); a new key could "
        f"not read them."
    )


def refuse_lost_key(settings, db) -> None:
    """Raise ``ConfigError`` (and delete the just-generated key file) when this start
    generated the encryption key although credentials are stored."""
    for section, key, path in settings.generated:
        if (section, key) != ("security", "encryption_key"):
            continue
        count = encrypted_accounts(db)
        if count:
            Path(path).unlink(missing_ok=True)
            raise ConfigError(lost_key_message(path, count))
