"""The dashboard's feedback alert as ``core.feedback`` computes it: negative and neutral
feedback of the last 30 days, newest first, with the order when it is stored. No Flask."""

from __future__ import annotations

from datetime import timedelta

from core.clock import utcnow
from core.feedback import ALERT_DAYS, ALERT_ROWS, recent_alert
from core.models import Order, SellerFeedback
from core.store import store_orders
from tests.conftest import order_data


def feedback(account, order_id: str, rating: int, days_ago: float) -> SellerFeedback:
    return SellerFeedback.create(
        account=account,
        order_id=order_id,
        rating=rating,
        left_at=utcnow() - timedelta(days=days_ago),
    )


def test_counts_negative_and_neutral_of_the_last_30_days_only(engine, account):
    feedback(account, "111-1", 1, 1)
    feedback(account, "111-2", 2, 2)
    feedback(account, "111-3", 3, 3)
    feedback(account, "111-4", 5, 1)  # positive: no alert
    feedback(account, "111-5", 1, ALERT_DAYS + 1)  # too old
    alert = recent_alert()
    assert (alert["negative"], alert["neutral"], alert["days"]) == (2, 1, 30)
    assert [f.order_id for f in alert["rows"]] == ["111-1", "111-2", "111-3"]


def test_lists_the_newest_few_with_their_stored_order(engine, account):
    data = order_data("US")
    store_orders(account, [data], "test")
    for n in range(ALERT_ROWS + 2):
        feedback(account, f"222-{n}", 1, n + 1)
    feedback(account, data.order_id, 3, 0.5)
    rows = recent_alert()["rows"]
    assert len(rows) == ALERT_ROWS
    assert rows[0].order_id == data.order_id
    assert rows[0].order.id == Order.get(Order.order_id == data.order_id).id
    assert rows[1].order is None  # feedback on an order not stored here


def test_plugins_count_stars_by_the_one_scale_core_exports():
    import core
    import core.feedback
    from plugins.amazon import feedback as amazon_feedback

    assert (core.NEGATIVE_MAX, core.NEUTRAL) == (2, 3)
    assert core.NEGATIVE_MAX is core.feedback.NEGATIVE_MAX
    assert amazon_feedback.NEGATIVE_MAX is core.feedback.NEGATIVE_MAX
    assert "NEUTRAL" not in vars(amazon_feedback)  # no copy of its own
