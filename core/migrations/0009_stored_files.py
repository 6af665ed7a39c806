"""The seller's file library (core.attachments.StoredFile)."""

from core.attachments import StoredFile


def up(db):
    db.create_tables([StoredFile], safe=True)
