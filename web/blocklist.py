"""The blocklist page: every blocked buyer with reason, who and until when, a way to add
one by order id and to take one off again (undo)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core.blocklist import (
    block_buyer,
    block_days,
    block_expiry,
    blocklist_entries,
    expire_blocklist,
    unblock_buyer,
)
from core.models import OptOut
from core.orders import find_order

from .context import engine
from .dashboard_cache import clear_cache
from .security import current_user, requires

bp = Blueprint("blocklist", __name__, url_prefix="/blocklist")


def _page(status: int = 200, errors: dict | None = None, values: dict | None = None):
    return (
        render_template(
            "blocklist/index.html",
            entries=blocklist_entries(),
            errors=errors or {},
            values=values or {},
        ),
        status,
    )


@bp.route("/")
def index():
    """Blocked buyers, newest first; entries whose time is up are removed first."""
    if expire_blocklist(engine()):
        clear_cache()
    return _page()


@bp.route("/", methods=["POST"])
@requires("editor")
def add():
    """Block the buyer of an order given by its Amazon order id."""
    values = {k: request.form.get(k, "").strip() for k in ("order_id", "reason", "days")}
    errors = {}
    order = find_order(values["order_id"]) if values["order_id"] else None
    if not values["order_id"]:
        errors["order_id"] = "Order id: give the Amazon order id of one of the buyer's orders."
    elif order is None:
        errors["order_id"] = f"Order id: no order {values['order_id']} is stored here."
    elif not order.buyer_key:
        errors["order_id"] = "Order id: this order has no buyer identity yet; it cannot be used."
    days, problem = block_days(values["days"])
    if problem:
        errors["days"] = problem
    if errors:
        return _page(422, errors, values)
    who = current_user().username
    until = block_expiry(days)
    if block_buyer(
        order.buyer_key, values["reason"] or f"blocked by {who}", by=who, expires_at=until
    ):
        clear_cache()
        flash(f"The buyer of order {order.order_id} is on the blocklist.", "success")
    else:
        flash(f"The buyer of order {order.order_id} was already on the blocklist.", "info")
    return redirect(url_for("blocklist.index"))


@bp.route("/<int:entry_id>/remove", methods=["POST"])
@requires("editor")
def remove(entry_id: int):
    """Take a buyer off the blocklist (undo): the messages the block ended come back."""
    entry = OptOut.get_or_none((OptOut.id == entry_id) & (OptOut.kind == "blocklist"))
    if entry is None:
        flash("That buyer is no longer on the blocklist.", "info")
        return redirect(url_for("blocklist.index"))
    revived = unblock_buyer(engine(), entry, by=current_user().username)
    clear_cache()
    flash(f"Removed from the blocklist; {revived} message(s) planned again.", "success")
    return redirect(url_for("blocklist.index"))
