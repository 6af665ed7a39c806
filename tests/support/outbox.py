"""Data helpers for the outbox tests (dashboard, messages, orders): real rows through
the core's own store, planning and dispatch; nothing mocked."""

from __future__ import annotations

import html
import re

from core.clock import utcnow
from core.models import Campaign, Message, Order, Step, User
from core.passwords import hash_password
from core.store import store_orders
from tests.conftest import order_data
from tests.support.web import PASSWORD, login


def campaign_step(name="Review", status="active", sender="dry_run", **step) -> Step:
    """An active campaign of one review-request step on ``delivered`` (dry run)."""
    campaign = Campaign.create(name=name, status=status)
    values = dict(
        campaign=campaign,
        position=1,
        name=f"{name} step",
        trigger="delivered",
        delay_days=5,
        sender=sender,
        message_type="review_request",
        rules=[{"rule": "not_cancelled_returned_refunded", "params": {}}],
        window_start_hour=0,
        window_end_hour=24,
    )
    values.update(step)
    return Step.create(**values)


def stored_order(account, marketplace="US", **kw) -> Order:
    """One order stored through ``core.store`` (events included)."""
    data = order_data(marketplace, **kw)
    store_orders(account, [data], "t")
    return Order.get(Order.order_id == data.order_id)


def add_message(order: Order, step: Step, state: str, **fields) -> Message:
    """A message row in ``state`` for (order, step), as dispatch would have left it."""
    now = utcnow()
    values = dict(
        order=order,
        step=step,
        campaign=step.campaign_id,
        account=order.account_id,
        sender=step.sender,
        state=state,
        due_at=now,
        dry_run=step.sender == "dry_run",
        review_request=True,
    )
    values.update(fields)
    return Message.create(**values)


def user_client(app, role: str):
    """A fresh test client signed in as a new user with ``role``."""
    User.create(
        username=role,
        password_hash=hash_password(PASSWORD),
        role=role,
        must_change_password=False,
    )
    client = app.test_client()
    assert login(client, role).status_code == 302
    return client


def flashes(page: str) -> list[str]:
    """The flash messages shown on a page."""
    found = re.findall(r'<p class="flash flash-\w+">([^<]*)</p>', page)
    return [html.unescape(f) for f in found]
