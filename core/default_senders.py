"""The dry-run sender: records what would have been sent; nothing leaves the machine.

Campaigns in test status, installs with ``[app] test_mode = true`` and demo data all go
through it, and every message it handles is labelled "dry run" in the admin.
"""

from __future__ import annotations

import hashlib

from .contracts import Sender, SendResult
from .hookspecs import hookimpl

DRY_RUN = "dry_run"


def _send(engine, message, order, rendered):
    digest = hashlib.sha256(f"{message.id}:{rendered.text}".encode()).hexdigest()[:16]
    return SendResult("sent", "dry run: recorded, not sent", external_id=f"dry-{digest}")


def _reconcile(engine, message, order):
    # Nothing left the machine, so a dry-run message in doubt provably was not sent.
    return "not_sent"


@hookimpl
def register_senders(engine):
    return [
        Sender(
            DRY_RUN,
            "Dry run (records, never sends)",
            _send,
            reconcile=_reconcile,
            dry_run=True,
        )
    ]
