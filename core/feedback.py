"""Seller feedback on orders: Amazon's star scale, an order's feedback and the recent
negative and neutral feedback a seller should see first.

The feedback itself is Amazon's, read by a plugin job; the order trace (web page and
``followup trace``), the Feedback page, the dashboard's alert and the plugins name it by
this one scale.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from peewee import JOIN

from .clock import utcnow
from .models import Order, SellerFeedback

NEGATIVE_MAX = 2  # 1-2 stars: negative; 3: neutral (Amazon's feedback scale)
NEUTRAL = 3
ALERT_DAYS = 30  # how far back the dashboard's alert looks
ALERT_ROWS = 5  # the feedback it lists; the Feedback page has the rest


def kind(rating: int) -> str:
    """negative, neutral or positive, as Amazon counts stars."""
    if rating <= NEGATIVE_MAX:
        return "negative"
    return "neutral" if rating == NEUTRAL else "positive"


def for_order(order) -> SellerFeedback | None:
    """The feedback the buyer left on ``order``, or None."""
    return SellerFeedback.get_or_none(
        (SellerFeedback.account == order.account_id) & (SellerFeedback.order_id == order.order_id)
    )


def with_orders(query):
    """Feedback rows with their order (``row.order`` when the order is stored here),
    newest first."""
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


def recent_alert(now: datetime | None = None) -> dict:
    """Negative and neutral feedback of the last ``ALERT_DAYS`` days: how many of each and
    the newest ``ALERT_ROWS``, for the dashboard's alert."""
    since = (now or utcnow()) - timedelta(days=ALERT_DAYS)
    recent = SellerFeedback.select().where(
        (SellerFeedback.left_at >= since) & (SellerFeedback.rating <= NEUTRAL)
    )
    return {
        "negative": recent.where(SellerFeedback.rating <= NEGATIVE_MAX).count(),
        "neutral": recent.where(SellerFeedback.rating == NEUTRAL).count(),
        "rows": list(with_orders(recent).limit(ALERT_ROWS)),
        "days": ALERT_DAYS,
    }
