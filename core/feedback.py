"""Seller feedback on orders: Amazon's star scale and an order's feedback.

The feedback itself is Amazon's, read by a plugin job; the order trace (web page and
``followup trace``) and the Feedback page name it by this one scale.
"""

from __future__ import annotations

from .models import SellerFeedback

NEGATIVE_MAX = 2  # 1-2 stars: negative; 3: neutral (Amazon's feedback scale)
NEUTRAL = 3


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
