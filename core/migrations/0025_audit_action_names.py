"""Audit log actions in one style: ``file.upload`` and ``file.delete`` become
``file_uploaded`` and ``file_deleted``, like every other action (``noun_verbed``), so the
audit log reads one way for old and new entries."""

from core.models import AuditLog

RENAMED = {"file.upload": "file_uploaded", "file.delete": "file_deleted"}


def up(db):
    for old, new in RENAMED.items():
        AuditLog.update(action=new).where(AuditLog.action == old).execute()
