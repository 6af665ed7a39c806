"""The email plugin pointed at the test mail servers of ``tests.mailservers``: its SMTP
settings, an engine fixture, orders and messages for it, and parsing what arrived."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from core.clock import utcnow
from core.models import Campaign, Message, Order, Step
from core.store import store_orders
from tests.mailservers import IMAP_PASSWORD, IMAP_USER, SMTP_PASSWORD, SMTP_USER

FROM = "shop@example.com"
RELAY = "a1b2c3d4e5@marketplace.amazon.com"
PASSWORD_ENV = "FOLLOWUP_TEST_SMTP_PASSWORD"


def smtp_settings(smtp, password_env: str, timeout: int = 10) -> dict:
    """The email plugin's settings for ``smtp`` (STARTTLS + AUTH, its own CA); the
    password is read from the environment variable ``password_env``."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "starttls",
        "smtp_username": SMTP_USER,
        "smtp_password_env": password_env,
        "tls_ca_file": str(smtp.cert),
        "smtp_timeout": timeout,
    }


def parse_mail(data: bytes) -> EmailMessage:
    """A received message's bytes as an ``EmailMessage`` (modern policy)."""
    return email.message_from_bytes(data, policy=default_policy)


def received_mail(server, index=-1) -> EmailMessage:
    return parse_mail(server.received[index].data)


@pytest.fixture
def make_email_engine(make_engine, monkeypatch):
    """An engine with the email plugin, pointed at the test servers."""
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)

    def make(smtp=None, imap=None, sections=None, **overrides):
        values = {"from_address": FROM}
        if smtp is not None:
            values.update(smtp_settings(smtp, PASSWORD_ENV))
        if imap is not None:
            values.update(
                imap_host="127.0.0.1",
                imap_port=imap.port,
                imap_security="none",
                imap_username=IMAP_USER,
                imap_password=IMAP_PASSWORD,  # the "stored by the UI" path
            )
        values.update(overrides)
        return make_engine(
            plugins={"enabled": ["amazon", "demo", "email"]},
            plugin_settings={"email": values},
            **(sections or {}),
        )

    return make


def new_order(engine, account, **fields):
    from tests.conftest import order_data  # conftest imports this module's fixture

    fields.setdefault("buyer_email", RELAY)
    data = order_data("US", delivered_days_ago=2, **fields)
    ids = store_orders(account, [data], "test", set(engine.marketplaces)).changed_ids
    return Order.get_by_id(ids[0])


def new_message(order, *, critical=False, state="sending", due_in_days=0):
    campaign = Campaign.create(name="Email", status="active", account=order.account)
    step = Step.create(
        campaign=campaign, trigger="delivered", sender="email", critical=critical, name="s"
    )
    return Message.create(
        order=order,
        step=step,
        campaign=campaign,
        account=order.account,
        sender="email",
        state=state,
        due_at=utcnow() + timedelta(days=due_in_days),
    )
