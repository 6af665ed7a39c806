"""Seller feedback buyers left on orders (read from the marketplace by a plugin job):
the Feedback page and the dashboard's alert on negative and neutral feedback (the star
scale is ``core.feedback``'s). Read-only: the feedback itself is Amazon's."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request
from peewee import JOIN

from core.clock import utcnow
from core.feedback import NEGATIVE_MAX, NEUTRAL, kind
from core.models import FeedbackRead, Order, SellerAccount, SellerFeedback

bp = Blueprint("feedback", __name__, url_prefix="/feedback")

PAGE = 200
ALERT_DAYS = 30
RATINGS = {
    "critical": (SellerFeedback.rating <= NEUTRAL, "negative and neutral"),
    "negative": (SellerFeedback.rating <= NEGATIVE_MAX, "negative"),
    "neutral": (SellerFeedback.rating == NEUTRAL, "neutral"),
    "all": (None, "all"),
}


def _with_orders(query):
    """Feedback rows with their order (when the order is stored), newest first."""
    return (
        query.select(SellerFeedback, Order.id)
        .join(
            Order,
            JOIN.LEFT_OUTER,
            on=(
                (Order.account == SellerFeedback.account)
                & (Order.order_id == SellerFeedback.order_id)
            ),
            attr="order",
        )
        .order_by(SellerFeedback.left_at.desc(), SellerFeedback.id.desc())
    )


def alert() -> dict:
    """Negative and neutral feedback of the last ``ALERT_DAYS`` days, for the dashboard."""
    since = utcnow() - timedelta(days=ALERT_DAYS)
    recent = SellerFeedback.select().where(
        (SellerFeedback.left_at >= since) & (SellerFeedback.rating <= NEUTRAL)
    )
    rows = list(_with_orders(recent).limit(5))
    return {
        "negative": recent.where(SellerFeedback.rating <= NEGATIVE_MAX).count(),
        "neutral": recent.where(SellerFeedback.rating == NEUTRAL).count(),
        "rows": rows,
        "days": ALERT_DAYS,
    }


@bp.route("/")
def index():
    """Every feedback read from the marketplaces, filtered by rating, and when each
    account's feedback was last read (or why it could not be)."""
    shown = request.args.get("rating", "critical")
    if shown not in RATINGS:
        shown = "critical"
    condition, label = RATINGS[shown]
    query = SellerFeedback.select()
    if condition is not None:
        query = query.where(condition)
    reads = {
        r.account_id: r for r in FeedbackRead.select().where(FeedbackRead.account.is_null(False))
    }
    accounts = list(
        SellerAccount.select()
        .where((SellerAccount.source == "amazon") & (SellerAccount.is_demo == False))  # noqa: E712
        .order_by(SellerAccount.name)
    )
    return render_template(
        "feedback/index.html",
        rows=list(_with_orders(query).limit(PAGE)),
        shown=shown,
        label=label,
        choices=[(k, v[1]) for k, v in RATINGS.items()],
        accounts=[(a, reads.get(a.id)) for a in accounts],
        kind=kind,
        page=PAGE,
    )
