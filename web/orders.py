"""Orders: search with keyset pagination, each order's full trace, and a person's
actions on one order (stop its messages, block its buyer, send a step now)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from peewee import OP, Expression, fn

from core.blocklist import (
    UndoRefused,
    block_buyer,
    block_days,
    block_expiry,
    resume_order,
    stop_order_messages,
    unblock_buyer,
)
from core.db import is_sqlite
from core.models import (
    Campaign,
    OptOut,
    Order,
    OrderItem,
    Product,
    SellerAccount,
    Step,
)
from core.order_trace import trace_order
from core.send_now import send_step_now

from .context import engine
from .converters import is_id
from .dashboard_cache import clear_cache
from .dates import date_range, seller_tz
from .paging import keyset_after, keyset_cursor
from .security import current_user, requires

bp = Blueprint("orders", __name__, url_prefix="/orders")

PAGE = 50
COMMON_PRODUCT = 2000  # items: above this many, walk orders newest first instead
MATCHING_TITLES = 500  # catalogue rows a title search may name before it counts as common
# Amazon's order statuses as the filter offers them. The Orders API writes "Canceled",
# the All Orders report "Cancelled": one choice finds both (SPELLINGS).
ORDER_STATUSES = (
    "Canceled",
    "PartiallyShipped",
    "Pending",
    "Shipped",
    "Unfulfillable",
    "Unshipped",
)
SPELLINGS = {"Canceled": ("Canceled", "Cancelled"), "Cancelled": ("Canceled", "Cancelled")}


def _orders_with_items(match):
    """Orders with an item matching ``match`` (an expression over the indexed SKU or ASIN).

    A rare product: its few orders are collected through the item indexes (IN). A common
    one: the newest-first scan of orders checks each order's items (EXISTS) and stops at
    a page, after ~50 / share-of-orders rows. Either way a page costs about the same at
    10,000 or 1,000,000 orders.
    """
    common = (
        OrderItem.select(OrderItem.id).where(match).limit(COMMON_PRODUCT).count() >= COMMON_PRODUCT
    )
    if common:
        return fn.EXISTS(
            OrderItem.select(OrderItem.id).where(match & (OrderItem.order == Order.id))
        )
    return Order.id.in_(OrderItem.select(OrderItem.order).where(match))


def _has_product(sku: str):
    """Orders with an item of this exact SKU or ASIN (both indexed; LIKE would scan all)."""
    return _orders_with_items((OrderItem.sku == sku) | (OrderItem.asin == sku))


def _has_status(statuses):
    """Orders in one of ``statuses``. A rare status (cancellations, a few hundred orders)
    is read through the (status, purchased_at) index; a common one by the newest-first
    scan, which finds a page at once. With two spellings a database would otherwise scan
    every order newest first, looking for a status few have."""
    match = Order.status.in_(statuses)
    common = Order.select(Order.id).where(match).limit(COMMON_PRODUCT).count() >= COMMON_PRODUCT
    if common:
        return match
    return Order.id.in_(Order.select(Order.id).where(match))


def _order_id_prefix(text: str):
    """Order ids starting with ``text``, through the order id index: GLOB on SQLite
    (its LIKE ignores case, so it cannot use the index), LIKE on PostgreSQL (with the
    pattern index of migration 0017). peewee writes ``OP.LIKE`` as GLOB on SQLite."""
    if is_sqlite():
        pattern = "".join(f"[{c}]" if c in "*?[" else c for c in text) + "*"
    else:
        pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return Expression(Order.order_id, OP.LIKE, pattern)


def _search(text: str):
    """The search box: an order id (whole or its first digits), a SKU or ASIN, or words
    of a product title. Titles are searched in the product catalogue (a few thousand
    rows, whatever the number of orders), then orders through the item indexes."""
    matches = [(OrderItem.sku == text) | (OrderItem.asin == text)]
    titles = (
        Product.select(Product.sku)
        .where(Product.title ** f"%{text}%")  # case-insensitive; % and _ are wildcards
        .limit(MATCHING_TITLES + 1)
    )
    skus = sorted({sku for (sku,) in titles.tuples()})
    if len(skus) > MATCHING_TITLES:
        # So many products match that the newest-first scan finds a page at once.
        return _orders_with_items(OrderItem.title ** f"%{text}%") | _order_id_prefix(text)
    if skus:
        matches.append(OrderItem.sku.in_(skus))
    item_match = matches[0]
    for extra in matches[1:]:
        item_match |= extra
    return _order_id_prefix(text) | _orders_with_items(item_match)


def _filtered(start, end):
    query = Order.select(Order, SellerAccount).join(SellerAccount)
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(_search(q))
    sku = request.args.get("sku", "").strip()
    if sku:
        query = query.where(_has_product(sku))
    if start:
        query = query.where(Order.purchased_at >= start)
    if end:
        query = query.where(Order.purchased_at < end)  # the day after "to": inclusive
    account = request.args.get("account", "")
    if account.isdigit():
        query = query.where(Order.account == int(account))
    if request.args.get("marketplace"):
        query = query.where(Order.marketplace == request.args["marketplace"])
    status = request.args.get("status")
    if status:
        query = query.where(_has_status(SPELLINGS.get(status, (status,))))
    if request.args.get("fulfillment"):
        query = query.where(Order.fulfillment == request.args["fulfillment"])
    return query


def stored_marketplaces() -> list[str]:
    """The marketplaces that have orders, one index probe each (a loose index scan):
    SELECT DISTINCT would read the whole index on every page view."""
    found, last = [], ""
    while True:
        code = Order.select(fn.MIN(Order.marketplace)).where(Order.marketplace > last).scalar()
        if code is None:
            return found
        found.append(code)
        last = code


@bp.route("/")
def index():
    """Orders, newest first, 50 per page; ``after`` is the keyset cursor."""
    start, end, bad_dates = date_range(request.args)
    # "from" after "to" can match nothing: say so rather than show an empty list.
    reversed_dates = bool(start and end and start >= end)
    rows, cursor = [], ""
    if not reversed_dates:
        query = _filtered(start, end)
        after = request.args.get("after", "")
        if after:
            try:
                query = query.where(keyset_after(Order.purchased_at, Order.id, after))
            except ValueError:
                abort(400, description="The 'after' cursor is malformed; start over.")
        rows = list(query.order_by(Order.purchased_at.desc(), Order.id.desc()).limit(PAGE + 1))
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        cursor = keyset_cursor(rows[-1].purchased_at, rows[-1].id) if more and rows else ""
    template = "orders/_table.html" if request.headers.get("HX-Request") else "orders/index.html"
    return render_template(
        template,
        orders=rows,
        cursor=cursor,
        marketplaces=stored_marketplaces(),
        accounts=list(SellerAccount.select().order_by(SellerAccount.name)),
        # A fixed list: SELECT DISTINCT status would scan every order on each page view.
        statuses=ORDER_STATUSES,
        args=request.args,
        bad_dates=bad_dates,
        reversed_dates=reversed_dates,
    )


def _order_or_404(order_pk: int) -> Order:
    order = Order.get_or_none(Order.id == order_pk)
    if order is None:
        abort(404)
    return order


def _render_detail(order: Order, status: int = 200, **extra):
    """The order page, rendered from the order's trace (``core.order_trace``), the same
    read model ``followup trace`` prints."""
    user = current_user()
    return (
        render_template(
            "orders/detail.html",
            trace=trace_order(engine(), order, seller_tz()),
            can_act=user is not None and user.role in ("editor", "admin"),
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
    until = block_expiry(days)
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
