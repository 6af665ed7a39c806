"""Seller feedback buyers left on orders (read from the marketplace by a plugin job): the
Feedback page. The star scale and the dashboard's alert on negative and neutral feedback
are ``core.feedback``'s. Read-only: the feedback itself is Amazon's."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from core.feedback import NEGATIVE_MAX, NEUTRAL, kind, with_orders
from core.models import FeedbackRead, SellerAccount, SellerFeedback

bp = Blueprint("feedback", __name__, url_prefix="/feedback")

PAGE = 200
RATINGS = {
    "critical": (SellerFeedback.rating <= NEUTRAL, "negative and neutral"),
    "negative": (SellerFeedback.rating <= NEGATIVE_MAX, "negative"),
    "neutral": (SellerFeedback.rating == NEUTRAL, "neutral"),
    "all": (None, "all"),
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
        rows=list(with_orders(query).limit(PAGE)),
        shown=shown,
        label=label,
        choices=[(k, v[1]) for k, v in RATINGS.items()],
        accounts=[(a, reads.get(a.id)) for a in accounts],
        kind=kind,
        page=PAGE,
    )
