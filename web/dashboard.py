"""The dashboard: what was sent, what needs attention, and "Load demo data"."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from peewee import fn

from core.config import ConfigError
from core.demo import load_demo
from core.models import Message, Order, SellerAccount

from .security import requires
from .views_format import audit, engine

bp = Blueprint("dashboard", __name__)


@bp.route("/")
def index():
    """Counts by state, accounts and their sync status, messages needing a person."""
    counts = dict(
        Message.select(Message.state, fn.COUNT(Message.id)).group_by(Message.state).tuples()
    )
    attention = list(
        Message.select(Message, Order)
        .join(Order)
        .where(Message.state.in_(["in_doubt", "failed"]))
        .order_by(Message.updated_at.desc())
        .limit(20)
    )
    accounts = list(SellerAccount.select().order_by(SellerAccount.name))
    return render_template(
        "dashboard.html",
        counts=counts,
        total_orders=Order.select().count(),
        attention=attention,
        accounts=accounts,
        has_demo=any(a.is_demo for a in accounts),
    )


@bp.route("/demo", methods=["POST"])
@requires("editor")
def demo():
    """Load (or refresh) the demo seller, its orders and the demo campaign."""
    try:
        counts = load_demo(engine())
    except ConfigError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.index"))
    audit("demo_loaded", detail=str(counts))
    flash(
        f"Demo data loaded: {counts['orders']} orders, {counts['planned']} messages planned "
        f"(dry run: nothing is sent to Amazon).",
        "success",
    )
    return redirect(url_for("dashboard.index"))
