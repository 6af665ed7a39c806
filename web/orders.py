"""Orders: search with keyset pagination, and each order's full trace."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, render_template, request

from core.models import (
    Attempt,
    Decision,
    Message,
    Order,
    OrderEvent,
    OrderItem,
    SellerAccount,
    Step,
)

from .views_format import engine

bp = Blueprint("orders", __name__, url_prefix="/orders")

PAGE = 50
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


def _filtered():
    query = Order.select(Order, SellerAccount).join(SellerAccount)
    q = request.args.get("q", "").strip()
    if q:
        items = OrderItem.select(OrderItem.order).where(
            (OrderItem.sku == q) | (OrderItem.asin == q)
        )
        query = query.where((Order.order_id == q) | Order.id.in_(items))
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
            stamp, oid = after.rsplit("_", 1)
            when = datetime.fromisoformat(stamp)
            query = query.where(
                (Order.purchased_at < when) | ((Order.purchased_at == when) & (Order.id < int(oid)))
            )
        except ValueError:
            abort(400, description="The 'after' cursor is malformed; start from the first page.")
    rows = list(query.order_by(Order.purchased_at.desc(), Order.id.desc()).limit(PAGE + 1))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    cursor = f"{rows[-1].purchased_at.isoformat()}_{rows[-1].id}" if more and rows else ""
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
    )


@bp.route("/<int:order_pk>")
def detail(order_pk: int):
    """The order's story: events, steps considered, decisions, messages and attempts."""
    order = Order.get_or_none(Order.id == order_pk)
    if order is None:
        abort(404)
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
    return render_template(
        "order.html",
        order=order,
        items=list(OrderItem.select().where(OrderItem.order == order)),
        events=list(
            OrderEvent.select().where(OrderEvent.order == order).order_by(OrderEvent.occurred_at)
        ),
        decisions=decisions,
        messages=messages,
        attempts=attempts,
        delivery=eng.delivery_window(order),
        review_window=eng.review_window(order),
        marketplace=eng.marketplace(order.marketplace),
    )
