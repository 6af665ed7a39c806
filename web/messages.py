"""Messages: the outbox and the sent log, filtered, with a person's actions on one message.

The list is keyset paginated on ``message.id`` (newest first), so page 1000 costs what
page 1 costs; the filters use the ``(state, id)``, ``account``, ``campaign`` and
``due_at`` indexes. The CSV export streams the same filtered list in id batches and
never holds it in memory.
"""

from __future__ import annotations

import io
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from core.contracts import ALL_STATES, FAILED, IN_DOUBT, RETRY, SCHEDULED
from core.csv_out import SafeWriter
from core.models import Attempt, Campaign, Message, Order, SellerAccount, Step
from core.outbox import cancel_message, resolve_in_doubt, retry_message

from .context import engine
from .converters import is_id
from .dashboard_cache import clear_cache
from .dates import date_range
from .downloads import content_disposition
from .paging import keyset_after, keyset_cursor
from .redirects import safe_next
from .security import current_user, requires

bp = Blueprint("messages", __name__, url_prefix="/messages")

PAGE = 50
# Filter values that select several states at once (the dashboard's cards link to them).
STATE_GROUPS = {f"{SCHEDULED},{RETRY}": "Scheduled or retrying"}
EXPORT_BATCH = 1000
FILTERS = ("state", "campaign", "account", "marketplace", "from", "to", "by")
CSV_COLUMNS = (
    "message_id",
    "order_id",
    "marketplace",
    "account",
    "campaign",
    "state",
    "sender",
    "dry_run",
    "review_request",
    "due_at_utc",
    "sent_at_utc",
    "attempts",
    "reason",
    "error",
)


def _filtered(args):
    """The messages matching the filters in ``args`` (joined to their order)."""
    query = Message.select(Message, Order).join(Order)
    states = [s for s in args.get("state", "").split(",") if s]
    if states and set(states) <= ALL_STATES:
        # "scheduled,retry" is the dashboard's "waiting to be sent" (both still go out).
        # One state stays an equality: the (state, id) index then also gives the order.
        one = Message.state == states[0]
        query = query.where(one if len(states) == 1 else Message.state.in_(states))
    if is_id(args.get("campaign", "")):
        query = query.where(Message.campaign == int(args["campaign"]))
    if is_id(args.get("account", "")):
        query = query.where(Message.account == int(args["account"]))
    if args.get("marketplace"):
        query = query.where(Order.marketplace == args["marketplace"])
    start, end, _ = date_range(args)
    # "by=sent": the days are send days (the dashboard's sent card counts by send day).
    when = Message.sent_at if args.get("by") == "sent" else Message.due_at
    if start:
        query = query.where(when >= start)
    if end:
        query = query.where(when < end)  # the day after "to": "to" is inclusive
    return query


def _active_filters(args) -> dict:
    return {k: args[k] for k in FILTERS if args.get(k)}


@bp.route("/")
def index():
    """Messages, newest first (by due time when a date range is given), filtered by state,
    campaign, account, marketplace and due day; ``after`` is the keyset cursor."""
    query = _filtered(request.args)
    after = request.args.get("after", "")
    # With a due-date range the list is ordered by due time, so the (state, due_at) and
    # due_at indexes serve both the range and the order; otherwise newest id first.
    start, end, bad_dates = date_range(request.args)
    dated = bool(start or end)
    if dated:
        if after:
            try:
                query = query.where(keyset_after(Message.due_at, Message.id, after))
            except ValueError:
                abort(400, description="The 'after' cursor is malformed; start from page one.")
        query = query.order_by(Message.due_at.desc(), Message.id.desc())
    else:
        if is_id(after):
            query = query.where(Message.id < int(after))
        query = query.order_by(Message.id.desc())
    rows = list(query.limit(PAGE + 1))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    cursor = ""
    if more and rows:
        last = rows[-1]
        cursor = keyset_cursor(last.due_at, last.id) if dated else last.id
    table = {
        "messages": rows,
        "cursor": cursor,
        "filters": _active_filters(request.args),
        "args": request.args,
    }
    if request.headers.get("HX-Request"):  # the filters swap only the table
        return render_template("messages/_table.html", **table)
    return render_template(
        "messages/index.html",
        **table,
        states=sorted(ALL_STATES),
        state_groups=STATE_GROUPS,
        campaigns=list(Campaign.select().order_by(Campaign.name)),
        accounts=list(SellerAccount.select().order_by(SellerAccount.name)),
        marketplaces=sorted(engine().marketplaces),
        bad_dates=bad_dates,
    )


@bp.route("/export.csv")
def export():
    """The filtered list as CSV, streamed in id batches (constant memory at any size)."""
    args = request.args.to_dict()
    campaigns = dict(Campaign.select(Campaign.id, Campaign.name).tuples())
    accounts = dict(SellerAccount.select(SellerAccount.id, SellerAccount.name).tuples())

    def rows():
        buffer = io.StringIO()
        writer = SafeWriter(buffer)  # no cell runs as a formula in a spreadsheet
        writer.writerow(CSV_COLUMNS)
        last = None
        while True:
            query = _filtered(args)
            if last is not None:
                query = query.where(Message.id < last)
            batch = list(query.order_by(Message.id.desc()).limit(EXPORT_BATCH))
            for m in batch:
                writer.writerow(
                    [
                        m.id,
                        m.order.order_id,
                        m.order.marketplace,
                        accounts.get(m.account_id, ""),
                        campaigns.get(m.campaign_id, ""),
                        m.state,
                        m.sender,
                        int(m.dry_run),
                        int(m.review_request),
                        m.due_at.isoformat(sep=" ") if m.due_at else "",
                        m.sent_at.isoformat(sep=" ") if m.sent_at else "",
                        m.attempts,
                        m.reason,
                        m.error,
                    ]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(batch) < EXPORT_BATCH:
                return
            last = batch[-1].id

    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": content_disposition(f"messages-{stamp}.csv")},
    )


def _message_or_404(message_id: int) -> Message:
    message = Message.select(Message, Order).join(Order).where(Message.id == message_id).first()
    if message is None:
        abort(404)
    return message


def _render_detail(message: Message, status: int = 200, **extra):
    step = Step.get_or_none(Step.id == message.step_id) if message.step_id else None
    return (
        render_template(
            "messages/detail.html",
            m=message,
            step=step,
            campaign=Campaign.get_or_none(Campaign.id == message.campaign_id),
            account=SellerAccount.get_or_none(SellerAccount.id == message.account_id),
            attempts=list(
                Attempt.select().where(Attempt.message == message.id).order_by(Attempt.id)
            ),
            can_act=current_user().role in ("editor", "admin"),
            **extra,
        ),
        status,
    )


@bp.route("/<int:message_id>")
def detail(message_id: int):
    """One message: its text, every attempt with times and outcomes, reason or error."""
    return _render_detail(_message_or_404(message_id))


def _back(message: Message):
    """Where to go after an action: a local ``next`` (the dashboard) or the message."""
    default = url_for("messages.detail", message_id=message.id)
    return redirect(safe_next(request.form.get("next"), default))


def _who() -> str:
    return current_user().username


@bp.route("/<int:message_id>/retry", methods=["POST"])
@requires("editor")
def retry(message_id: int):
    """Queue a failed message again, due now; dispatch re-checks every rule and veto."""
    message = _message_or_404(message_id)
    if retry_message(message, by=_who()):
        clear_cache()
        flash(f"Message #{message.id} is scheduled again and will be sent shortly.", "success")
    else:
        flash(f"Message #{message.id} is {message.state}, not {FAILED}: nothing to retry.", "error")
    return _back(message)


@bp.route("/<int:message_id>/resolve", methods=["POST"])
@requires("editor")
def resolve(message_id: int):
    """Settle an in-doubt message: "mark as sent", or "send again" with explicit consent."""
    message = _message_or_404(message_id)
    decision = request.form.get("decision", "")
    if message.state != IN_DOUBT:
        flash(f"Message #{message.id} is no longer in doubt ({message.state}).", "error")
        return _back(message)
    if decision not in ("sent", "again"):
        return _render_detail(message, 422, resolve_error="Choose what happened to it.")
    if decision == "again" and request.form.get("confirm_twice") != "yes":
        return _render_detail(
            message,
            422,
            resolve_error=(
                "Sending again may reach the buyer twice. Tick the confirmation box to "
                "send it anyway."
            ),
        )
    if not resolve_in_doubt(message, decision == "sent", by=_who()):
        flash(f"Message #{message.id} was resolved by someone else meanwhile.", "error")
    elif decision == "sent":
        clear_cache()
        flash(f"Message #{message.id} recorded as sent; nothing more goes out.", "success")
    else:
        clear_cache()
        flash(f"Message #{message.id} is scheduled to be sent again.", "success")
    return _back(message)


@bp.route("/<int:message_id>/cancel", methods=["POST"])
@requires("editor")
def cancel(message_id: int):
    """Withdraw a scheduled or retrying message before it is sent."""
    message = _message_or_404(message_id)
    reason = request.form.get("reason", "").strip()[:500]
    why = f"cancelled by {_who()}" + (f": {reason}" if reason else "")
    if cancel_message(message, why, by=_who()):
        clear_cache()
        flash(f"Message #{message.id} cancelled.", "success")
    else:
        flash(
            f"Message #{message.id} is {message.state}: only {SCHEDULED} or {RETRY} "
            "messages can be cancelled.",
            "error",
        )
    return _back(message)
