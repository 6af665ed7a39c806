"""Files: the seller's product manuals and warranty documents, attached by campaign step,
SKU and buyer language (``core.attachments``)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from core.attachments import KINDS, FileError, StoredFile, Upload, store
from core.models import Campaign, Step

from .audit import audit
from .converters import is_id
from .downloads import content_disposition
from .security import current_user, requires

bp = Blueprint("files", __name__, url_prefix="/files")


def _form(errors: dict[str, str] | None = None, values: dict | None = None, status: int = 200):
    files = list(
        StoredFile.select(
            StoredFile.id,
            StoredFile.name,
            StoredFile.kind,
            StoredFile.filename,
            StoredFile.size,
            StoredFile.campaign,
            StoredFile.step,
            StoredFile.sku,
            StoredFile.language,
            StoredFile.created_at,
            StoredFile.created_by,
        ).order_by(StoredFile.id.desc())
    )
    campaigns = list(Campaign.select().order_by(Campaign.name))
    steps = list(Step.select().order_by(Step.campaign, Step.position))
    return (
        render_template(
            "files/index.html",
            files=files,
            campaigns={c.id: c for c in campaigns},
            steps={s.id: s for s in steps},
            kinds=KINDS,
            errors=errors or {},
            values=values or {},
        ),
        status,
    )


@bp.route("/")
def index():
    """Every stored file with what it is attached to, and the upload form.

    ``?campaign=ID`` or ``?step=ID`` pre-selects what the upload is sent with (the
    campaign step editor links here); ``?sku=`` pre-fills the SKU.
    """
    values = {"campaign": request.args.get("campaign", ""), "sku": request.args.get("sku", "")}
    step = request.args.get("step", "")
    if is_id(step) and Step.get_or_none(Step.id == int(step)) is not None:
        values = {"target": f"step:{step}", "sku": values["sku"], "step": step}
    return _form(values=values)


def _int(value: str) -> int | None:
    return int(value) if is_id(value) else None


@bp.route("/", methods=["POST"])
@requires("editor")
def upload():
    """Store an upload after Amazon's checks; a refused file re-renders the form (422)."""
    sent = request.files.get("file")
    form = request.form
    target = form.get("target", "")  # "campaign:ID" or "step:ID"
    kind, _, ident = target.partition(":")
    item = Upload(
        name=form.get("name", ""),
        kind=form.get("kind", ""),
        filename=sent.filename if sent else "",
        data=sent.read() if sent else b"",
        campaign_id=_int(ident) if kind == "campaign" else None,
        step_id=_int(ident) if kind == "step" else None,
        sku=form.get("sku", ""),
        language=form.get("language", ""),
    )
    try:
        stored = store(item, user=current_user().username)
    except FileError as exc:
        flash(str(exc), "error")
        return _form({exc.field: str(exc)}, form.to_dict(), 422)
    audit("file_uploaded", f"file {stored.id}", f"{stored.filename} ({stored.kind})")
    flash(f"Stored {stored.filename}: it goes with the next matching messages.", "success")
    return redirect(url_for("files.index"))


@bp.route("/<int:file_id>")
def download(file_id: int):
    """The file as the buyer would receive it."""
    stored = StoredFile.get_or_none(StoredFile.id == file_id) or abort(404)
    return Response(
        bytes(stored.data),
        mimetype=stored.content_type,
        headers={"Content-Disposition": content_disposition(stored.filename)},
    )


@bp.route("/<int:file_id>/delete", methods=["POST"])
@requires("editor")
def delete(file_id: int):
    """Remove a file; messages already sent keep what they carried."""
    stored = StoredFile.get_or_none(StoredFile.id == file_id) or abort(404)
    stored.delete_instance()
    audit("file_deleted", f"file {file_id}", stored.filename)
    flash(f"Deleted {stored.filename}.", "success")
    return redirect(url_for("files.index"))
