"""The seller's file library: product manuals and warranty documents attached to messages.

A stored file belongs to a campaign (every step) or one step, and optionally to one SKU
and one buyer language, so "the right manual per SKU, in the buyer's language" is a
matter of uploading it once. ``core.default_attachments`` offers the matching files
through the ``message_attachments`` hook; each channel then enforces its own limits
(email: Amazon's 10 MB relay limit and file types; Messaging: the Uploads API).

Amazon's communication guidelines allow attachments only for product instructions,
invoices and warranty information (docs/amazon-rules.md §3, "attachments other than instructions,
invoices, warranty" are prohibited). Invoices differ per order, so they are not stored
here: the ``eu_vat`` plugin fetches each order's invoice from the seller's own source.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from peewee import BlobField, CharField, DateTimeField, ForeignKeyField, IntegerField

from .clock import utcnow
from .contracts import ATTACHMENT_MAX_BYTES, ATTACHMENT_SIGNATURES, ATTACHMENT_TYPES, Attachment
from .models import BaseModel, Campaign, Step

# Kinds a seller may store; "invoice" is refused with a pointer to the per-order source.
KINDS = {
    "instructions": "Product instructions or manual",
    "warranty": "Warranty information",
}
# Amazon's accepted types, signatures and size (core.contracts, shared with the plugins).
EXTENSIONS = ATTACHMENT_TYPES
SIGNATURES = ATTACHMENT_SIGNATURES
MAX_BYTES = ATTACHMENT_MAX_BYTES


class StoredFile(BaseModel):
    """A file uploaded by the seller, kept in the database so backups carry it."""

    name = CharField(max_length=120)  # shown to the seller
    kind = CharField(max_length=16)  # instructions, warranty
    filename = CharField(max_length=200)  # shown to the buyer
    content_type = CharField(max_length=120)
    data = BlobField()
    size = IntegerField()
    sha256 = CharField(max_length=64)
    campaign = ForeignKeyField(Campaign, null=True, backref="files", on_delete="CASCADE")
    step = ForeignKeyField(Step, null=True, backref="files", on_delete="CASCADE")
    sku = CharField(max_length=80, default="")  # "" = every product of the campaign
    language = CharField(max_length=8, default="")  # "" = every buyer language
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(max_length=80, default="")

    class Meta:
        table_name = "stored_file"


class FileError(ValueError):
    """An upload Amazon would refuse; ``field`` names the form field to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Upload:
    """What the seller submitted, before checks."""

    name: str
    kind: str
    filename: str
    data: bytes
    campaign_id: int | None = None
    step_id: int | None = None
    sku: str = ""
    language: str = ""


def check_upload(upload: Upload) -> str:
    """The content type to store, or ``FileError`` naming what to fix."""
    if upload.kind == "invoice":
        raise FileError(
            "kind",
            "Invoices differ per order: enable the eu_vat plugin and give it your invoice "
            "source instead of uploading one file.",
        )
    if upload.kind not in KINDS:
        raise FileError(
            "kind",
            "Amazon allows attachments only for product instructions, invoices and warranty "
            f"information; choose one of: {', '.join(KINDS)}.",
        )
    if not upload.name.strip():
        raise FileError("name", "Give the file a name you will recognise.")
    ext = os.path.splitext(upload.filename)[1].lower()
    if ext not in EXTENSIONS:
        raise FileError(
            "file",
            f"{upload.filename!r}: Amazon accepts {', '.join(sorted(set(EXTENSIONS)))} files.",
        )
    if not upload.data:
        raise FileError("file", f"{upload.filename!r} is empty.")
    if len(upload.data) > MAX_BYTES:
        raise FileError(
            "file",
            f"{upload.filename!r} is {len(upload.data) / 1024 / 1024:.1f} MB; Amazon's "
            "messaging limit is 10 MB for all attachments of a message.",
        )
    signatures = SIGNATURES.get(ext)
    if signatures and not upload.data.startswith(signatures):
        raise FileError(
            "file", f"{upload.filename!r} does not contain {ext[1:].upper()} data (renamed file?)."
        )
    if upload.campaign_id is None and upload.step_id is None:
        raise FileError("campaign", "Choose the campaign (or one of its steps) the file is for.")
    return EXTENSIONS[ext]


def store(upload: Upload, *, user: str = "") -> StoredFile:
    """Check and save an upload; the step's campaign is filled in when only a step is given."""
    content_type = check_upload(upload)
    campaign_id = upload.campaign_id
    if upload.step_id is not None:
        step = Step.get_or_none(Step.id == upload.step_id)
        if step is None:
            raise FileError("step", "That campaign step no longer exists.")
        if campaign_id is not None and step.campaign_id != campaign_id:
            raise FileError("step", "That step belongs to another campaign.")
        campaign_id = step.campaign_id
    elif Campaign.get_or_none(Campaign.id == campaign_id) is None:
        raise FileError("campaign", "That campaign no longer exists.")
    return StoredFile.create(
        name=upload.name.strip(),
        kind=upload.kind,
        filename=os.path.basename(upload.filename),
        content_type=content_type,
        data=upload.data,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        campaign=campaign_id,
        step=upload.step_id,
        sku=upload.sku.strip(),
        language=upload.language.strip().lower(),
        created_by=user,
    )


# Set by ``note_files`` on the steps of a dispatch batch: whether the step or its campaign
# has any stored file at all. Most have none, and then a send needs no query for them;
# the note is as fresh as the batch (``core.dispatch`` re-reads a batch after seconds).
_HAS_FILES = "_batch_has_files"


def note_files(steps) -> None:
    """Note on each of ``steps`` whether any file could go with its messages, in one
    query that reads the files' owners, never their bytes."""
    steps = list(steps)
    if not steps:
        return
    step_ids = {s.id for s in steps}
    campaign_ids = {s.campaign_id for s in steps}
    rows = (
        StoredFile.select(StoredFile.step, StoredFile.campaign)
        .where(
            StoredFile.step.in_(step_ids)
            | (StoredFile.campaign.in_(campaign_ids) & StoredFile.step.is_null())
        )
        .distinct()
        .tuples()
    )
    with_files, campaigns_with_files = set(), set()
    for step_id, campaign_id in rows:
        if step_id is None:
            campaigns_with_files.add(campaign_id)
        else:
            with_files.add(step_id)
    for step in steps:
        has = step.id in with_files or step.campaign_id in campaigns_with_files
        step.__dict__[_HAS_FILES] = has


def files_for(step: Step, skus: set[str], language: str) -> list[StoredFile]:
    """The files a message of ``step`` carries for an order with ``skus`` in ``language``.

    Campaign-wide files come first, then the step's own; a file for a SKU goes only to
    orders containing it; a file for a language only to buyers of that language.
    """
    if step.__dict__.get(_HAS_FILES) is False:
        return []  # a dispatch batch found none for this step: no query per message
    # Filtered in SQL: this runs on every compose (sends, previews, dry runs), and a row
    # carries the file's bytes, so a manual for another SKU must not even be read.
    query = StoredFile.select().where(
        (
            (StoredFile.step == step.id)
            | ((StoredFile.campaign == step.campaign_id) & StoredFile.step.is_null())
        )
        & ((StoredFile.sku == "") | StoredFile.sku.in_(sorted(skus)))
        & ((StoredFile.language == "") | (StoredFile.language == language))
    )
    return list(query.order_by(StoredFile.step.is_null(False), StoredFile.id))


def as_attachment(stored: StoredFile) -> Attachment:
    """The value a sender receives."""
    return Attachment(stored.filename, stored.content_type, bytes(stored.data), stored.kind)
