"""Orders: search with keyset pagination, each order's full trace, and a person's
actions on one order (stop its messages, block its buyer, send a step now)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from peewee import fn

from core.blocklist import UndoRefused, block_buyer, resume_order, unblock_buyer
from core.clock import utcnow
from core.models import (
    Attempt,
    Campaign,
    Decision,
    Message,
    OptOut,
    Order,
    OrderEvent,
    OrderItem,
    SellerAccount,
    Step,
)
from core.planning import active_steps
from core.services import send_step_now, stop_order_messages
from core.trace import plain_by, plain_reason, summary

from .converters import is_id
from .dashboard import clear_cache
from .feedback import for_order as feedback_for
from .feedback import kind as feedback_kind
from .security import current_user, requires
from .views_format import date_range, engine, keyset_after, keyset_cursor, seller_tz

bp = Blueprint("orders", __name__, url_prefix="/orders")

PAGE = 50
COMMON_PRODUCT = 2000  # items: above this many, walk orders newest first instead
# Amazon's order statuses (Orders API v0 and the All Orders report spellings).
ORDER_STATUSES = (
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "Canceled",
    "Cancelled",
    "Unfulfillable",
)


def _has_product(sku: str):
    """Orders with an item of this exact SKU or ASIN (both indexed; LIKE would scan all).

    A rare product: its few orders are collected through the item indexes (IN). A common
    one: the newest-first scan of orders checks each order's items (EXISTS) and stops at
    a page, after ~50 / share-of-orders rows. Either way a page costs about the same at
    10,000 or 1,000,000 orders.
    """
    match = (OrderItem.sku == sku) | (OrderItem.asin == sku)
    common = (
        OrderItem.select(OrderItem.id).where(match).limit(COMMON_PRODUCT).count() >= COMMON_PRODUCT
    )
    if common:
        return fn.EXISTS(
            OrderItem.select(OrderItem.id).where(match & (OrderItem.order == Order.id))
        )
    return Order.id.in_(OrderItem.select(OrderItem.order).where(match))


def _filtered():
    query = Order.select(Order, SellerAccount).join(SellerAccount)
    q = request.args.get("q", "").strip()
    if q:
        items = OrderItem.select(OrderItem.order).where(
            (OrderItem.sku == q) | (OrderItem.asin == q)
        )
        query = query.where((Order.order_id == q) | Order.id.in_(items))
    sku = request.args.get("sku", "").strip()
    if sku:
        query = query.where(_has_product(sku))
    start, end, _ = date_range(request.args)
    if start:
        query = query.where(Order.purchased_at >= start)
    if end:
        query = query.where(Order.purchased_at < end)  # the day after "to": inclusive
    if request.args.get("marketplace"):
        query = query.where(Order.marketplace == request.args["marketplace"])
    if request.args.get("status"):
        query = query.where(Order.status == request.args["status"])
    if request.args.get("fulfillment"):
        query = query.where(Order.fulfillment == request.args["fulfillment"])
    return query


@bp.route("/")
def index():
    """Orders, newest first, 50 per page; ``after`` is the keyset cursor."""
    query = _filtered()
    after = request.args.get("after", "")
    if after:
        try:
            query = query.where(keyset_after(Order.purchased_at, Order.id, after))
        except ValueError:
            abort(400, description="The 'after' cursor is malformed; start from the first page.")
    rows = list(query.order_by(Order.purchased_at.desc(), Order.id.desc()).limit(PAGE + 1))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    cursor = keyset_cursor(rows[-1].purchased_at, rows[-1].id) if more and rows else ""
    # A fixed list: SELECT DISTINCT status would scan every order on each page view.
    statuses = ORDER_STATUSES
    template = "_orders_table.html" if request.headers.get("HX-Request") else "orders.html"
    return render_template(
        template,
        orders=rows,
        cursor=cursor,
        marketplaces=sorted(engine().marketplaces),
        statuses=sorted(statuses),
        args=request.args,
        bad_dates=date_range(request.args)[2],
    )


def _order_or_404(order_pk: int) -> Order:
    order = Order.get_or_none(Order.id == order_pk)
    if order is None:
        abort(404)
    return order


def _render_detail(order: Order, status: int = 200, **extra):
    eng = engine()
    messages = list(Message.select().where(Message.order == order).order_by(Message.due_at))
    attempts = {}
    for a in (
        Attempt.select()
        .where(Attempt.message.in_([m.id for m in messages]))
        .order_by(Attempt.started_at)
    ):
        attempts.setdefault(a.message_id, []).append(a)
    decisions = list(
        Decision.select(Decision, Step)
        .join(Step)
        .where(Decision.order == order)
        .order_by(Step.campaign, Step.position)
    )
    by_step = {m.step_id: m for m in messages}
    steps = [
        (step, by_step.get(step.id))
        for step in active_steps()
        if not step.campaign.account_id or step.campaign.account_id == order.account_id
    ]
    blocked = (
        OptOut.select()
        .where((OptOut.buyer_key == order.buyer_key) & (OptOut.kind == "blocklist"))
        .first()
        if order.buyer_key
        else None
    )
    user = current_user()
    delivery = eng.delivery_window(order)
    # Without a delivery event the "delivered" trigger counted from the latest estimated
    # delivery date (core.default_triggers): the trace must not call that "delivered".
    estimated = "delivered" not in order.event_times()
    labels = {name: rule.label or name for name, rule in eng.rules.items()}
    return (
        render_template(
            "order.html",
            summary=summary(order, messages, decisions, seller_tz()),
            plain_reason=lambda text: plain_reason(text, delivery_estimated=estimated),
            plain_by=lambda by: plain_by(by, labels),
            order=order,
            items=list(OrderItem.select().where(OrderItem.order == order)),
            events=list(
                OrderEvent.select()
                .where(OrderEvent.order == order)
                .order_by(OrderEvent.occurred_at)
            ),
            decisions=decisions,
            messages=messages,
            attempts=attempts,
            steps=steps,
            blocked=blocked,
            can_act=user is not None and user.role in ("editor", "admin"),
            delivery=delivery,
            review_window=eng.review_window(order),
            feedback=feedback_for(order),
            feedback_kind=feedback_kind,
            marketplace=eng.marketplace(order.marketplace),
            **extra,
        ),
        status,
    )


@bp.route("/<int:order_pk>")
def detail(order_pk: int):
    """The order's story: events, steps considered, decisions, messages and attempts."""
    return _render_detail(_order_or_404(order_pk))


def _back(order: Order):
    return redirect(url_for("orders.detail", order_pk=order.id))


@bp.route("/<int:order_pk>/stop", methods=["POST"])
@requires("editor")
def stop(order_pk: int):
    """Cancel the order's pending messages and keep planning away from it."""
    order = _order_or_404(order_pk)
    reason = request.form.get("reason", "").strip()[:500]
    if not reason:
        return _render_detail(
            order, 422, stop_error="Say why (for example: the buyer asked us to stop)."
        )
    who = current_user().username
    count = stop_order_messages(order, f"stopped by {who}: {reason}", by=who)
    clear_cache()
    flash(
        f"Messages stopped for order {order.order_id}: {count} pending message(s) cancelled; "
        "no new ones will be planned.",
        "success",
    )
    return _back(order)


@bp.route("/<int:order_pk>/block", methods=["POST"])
@requires("editor")
def block(order_pk: int):
    """Put the order's buyer on the seller's blocklist: no message to them, any order,
    until removed or, with ``days``, for that many days."""
    order = _order_or_404(order_pk)
    reason = request.form.get("reason", "").strip()
    if not order.buyer_key:
        flash("This order has no buyer identity yet, so the buyer cannot be blocked.", "error")
        return _back(order)
    days, problem = block_days(request.form.get("days", ""))
    if problem:
        return _render_detail(order, 422, block_error=problem)
    who = current_user().username
    until = utcnow() + timedelta(days=days) if days else None
    if block_buyer(order.buyer_key, reason or f"blocked by {who}", by=who, expires_at=until):
        clear_cache()
        flash(
            f"The buyer of order {order.order_id} is on the blocklist"
            + (f" until {until:%Y-%m-%d}" if until else "")
            + ": no further message will be sent to them for any order.",
            "success",
        )
    else:
        flash("This buyer was already on the blocklist.", "info")
    return _back(order)


def block_days(value: str) -> tuple[int, str]:
    """The blocklist form's "for how long": "" = until removed, else 1 to 3650 days."""
    value = value.strip()
    if not value:
        return 0, ""
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        return 0, "For how long: a whole number of days from 1 to 3650, or empty for always."
    return int(value), ""


@bp.route("/<int:order_pk>/unblock", methods=["POST"])
@requires("editor")
def unblock(order_pk: int):
    """Undo the blocklist for this order's buyer: their waiting messages come back."""
    order = _order_or_404(order_pk)
    entry = (
        OptOut.get_or_none((OptOut.buyer_key == order.buyer_key) & (OptOut.kind == "blocklist"))
        if order.buyer_key
        else None
    )
    if entry is None:
        flash("This buyer is not on the blocklist.", "info")
        return _back(order)
    revived = unblock_buyer(engine(), entry, by=current_user().username)
    clear_cache()
    flash(
        f"The buyer of order {order.order_id} is off the blocklist; {revived} message(s) "
        "they would have had are planned again.",
        "success",
    )
    return _back(order)


@bp.route("/<int:order_pk>/resume", methods=["POST"])
@requires("editor")
def resume(order_pk: int):
    """Undo "Stop messages": the messages the stop cancelled are planned again."""
    order = _order_or_404(order_pk)
    if not order.messages_stopped:
        flash("Messages for this order are not stopped.", "info")
        return _back(order)
    try:
        revived = resume_order(engine(), order, by=current_user().username)
    except UndoRefused as exc:
        flash(f"Not undone: {exc}.", "error")
        return _back(order)
    clear_cache()
    flash(
        f"Messages allowed again for order {order.order_id}: {revived} cancelled message(s) "
        "planned again; each is checked again before it goes.",
        "success",
    )
    return _back(order)


@bp.route("/<int:order_pk>/send-now", methods=["POST"])
@requires("editor")
def send_now(order_pk: int):
    """Send one campaign step for this order now, if its rules and every veto allow."""
    order = _order_or_404(order_pk)
    step_id = request.form.get("step", "")
    step = (
        Step.select(Step, Campaign).join(Campaign).where(Step.id == int(step_id)).first()
        if is_id(step_id)
        else None
    )
    if step is None:
        return _render_detail(order, 422, send_error="Choose the campaign step to send.")
    ok, why = send_step_now(engine(), order, step, by=current_user().username)
    clear_cache()
    label = f"{step.campaign.name} / {step.name or step.trigger}"
    if ok:
        flash(f"Sent now: {label} ({why}).", "success")
    else:
        flash(f"Not sent: {label}. {why}", "error")
    return _back(order)
