"""Template version history, the diff between any two versions, and the test send."""

from __future__ import annotations

from types import SimpleNamespace

from flask import abort, flash, redirect, render_template, request, url_for

from core.compose import NO_MANUAL, language_variant, latest_version, manual_missing
from core.contracts import Rendered
from core.default_senders import DRY_RUN
from core.models import Order, SellerAccount, TemplateVersion
from core.seller_copies import copy_blocker, email_copy

from ..audit import audit
from ..context import engine
from ..converters import is_id
from ..security import requires
from .access import template_or_404
from .blueprint import bp
from .catalog import CHANNEL_LABELS, has_body
from .history import diff_rows, version_lines
from .preview import preview as render_preview
from .preview import test_attachments


def _versions(template) -> list[TemplateVersion]:
    return list(
        TemplateVersion.select()
        .where(TemplateVersion.template == template)
        .order_by(TemplateVersion.number.desc())
    )


@bp.route("/<int:template_id>/versions")
def versions(template_id: int):
    """Every saved version, newest first, and the diff between two of them (``a``, ``b``)."""
    template = template_or_404(template_id)
    history = _versions(template)
    by_number = {v.number: v for v in history}
    diff = None
    a, b = request.args.get("a", ""), request.args.get("b", "")
    if not (a and b) and len(history) >= 2:
        a, b = str(history[1].number), str(history[0].number)  # what the last save changed
    if a and b:
        if not (is_id(a) and is_id(b)) or int(a) not in by_number or int(b) not in by_number:
            abort(404, description="Choose two existing versions to compare.")
        old, new = by_number[int(a)], by_number[int(b)]
        rows = diff_rows(version_lines(old), version_lines(new))
        diff = {
            "a": old.number,
            "b": new.number,
            "rows": rows,
            "added": sum(1 for r in rows if r["kind"] == "added"),
            "removed": sum(1 for r in rows if r["kind"] == "removed"),
        }
    return render_template(
        "templates/versions.html",
        template=template,
        history=history,
        diff=diff,
        accounts=list(SellerAccount.select().order_by(SellerAccount.name)),
        has_body=has_body(template),
        test_blocker=copy_blocker(engine()),
    )


@bp.route("/<int:template_id>/test-send", methods=["POST"])
@requires("editor")
def test_send(template_id: int):
    """Render the current version and send it to the seller account's own test address.

    With the email plugin set up it is emailed through the seller's SMTP server to the
    account's test address only (``Sender.send_test``: ``[TEST]`` subject, never a buyer
    relay address); otherwise the dry-run sender records it and the flash says why nothing
    was emailed. No Message row is made either way: a test is not part of any sequence.
    """
    template = template_or_404(template_id)
    back = redirect(url_for("templates.versions", template_id=template.id))
    version = latest_version(template)
    account = SellerAccount.get_or_none(SellerAccount.id == request.form.get("account", type=int))
    language = request.form.get("language", "en")
    if not has_body(template):
        flash("Request a Review uses Amazon's own text: there is nothing to test-send.", "error")
        return back
    if version is None:
        flash("Save a version first.", "error")
        return back
    if account is None:
        flash("Choose a seller account.", "error")
        return back
    if not account.test_address:
        flash(
            f"Account {account.name!r} has no test address: set one on the Accounts page.",
            "error",
        )
        return back
    variant = language_variant(version, language)
    if variant is None:
        flash(f"Version {version.number} has no {language} variant.", "error")
        return back
    order = (
        Order.select()
        .where(Order.account == account)
        .order_by(Order.purchased_at.desc(), Order.id.desc())
        .first()
    )
    eng = engine()
    result = render_preview(
        eng,
        template,
        language=language,
        subject=variant.subject,
        body=variant.body,
        theme=version.theme,
        order=order,
        own_html=variant.html,
    )
    if result.blocked:
        why = "; ".join(result.errors) or ", ".join(
            dict.fromkeys(f["rule_id"] for f in result.findings if f["severity"] == "error")
        )
        flash(
            f"Test not sent: version {version.number} ({language}) does not render cleanly "
            f"on {result.source} ({why}). Open the editor to see the details.",
            "error",
        )
        return back
    # Messaging API texts have no subject: the test email names what it previews.
    channel = CHANNEL_LABELS.get(template.channel, template.channel)
    subject = result.subject or f"Preview of {template.name} ({channel})"
    attachments, attachment_note = test_attachments(eng, template, order)
    missing = NO_MANUAL if manual_missing(variant.body, result.context, attachments) else ""
    if missing:
        flash(
            f"Test not sent: version {version.number} ({language}) on {result.source}: {missing}.",
            "error",
        )
        return back
    rendered = Rendered(
        subject, result.text, result.html, language=language, attachments=attachments
    )
    test = email_copy(eng, account, rendered, order.marketplace if order else "")
    files = ", ".join(a.filename for a in attachments) or "none"
    preview_only = (
        ""
        if template.channel == "email"
        else " It was emailed as a preview of the text only: buyers receive this template "
        "through Amazon's Messaging API, not by email."
    )
    if test.emailed:
        detail = (
            f"version {version.number} ({language}) rendered on {result.source}, emailed to "
            f"{account.test_address}: {test.detail}; attachments: {files}"
            f"{'; ' + attachment_note if attachment_note else ''}\n"
            f"Subject: {rendered.subject}\n\n{result.text}"
        )[:8000]
        audit("template_test_send", template.name, detail)
        flash(
            f"Test of version {version.number} ({language}) emailed to {account.test_address}, "
            f"rendered on {result.source} ({len(attachments)} attachment(s)"
            f"{': ' + attachment_note if attachment_note else ''}): {test.detail}. Nothing "
            f"was sent to a buyer and no message was recorded.{preview_only}",
            "success",
        )
        return back
    stand_in = SimpleNamespace(id=0)  # no Message row: a test is not part of any sequence
    outcome = eng.sender(DRY_RUN).send(eng, stand_in, order, rendered)
    detail = (
        f"version {version.number} ({language}) rendered on {result.source} for "
        f"{account.test_address}: {outcome.status}, {outcome.detail}; not emailed: "
        f"{test.why_not}\nSubject: {rendered.subject}\n\n{result.text}"
    )[:8000]
    audit("template_test_send", template.name, detail)
    flash(
        f"Test of version {version.number} ({language}) for {account.test_address}, rendered "
        f"on {result.source}: {outcome.detail}. Nothing was emailed: {test.why_not}. The "
        "dry-run sender recorded it instead, so no buyer can ever receive it; the text is in "
        "the audit log.",
        "error" if test.failed else "success",
    )
    return back
