"""The preview is what would be sent: for one order and one text, the campaign step
editor's preview, the Templates editor's preview and an actual dispatch (a test
campaign, so the dry-run sender) give the same rendered text and the same reason not
to send.

The cases are ones where the previews used to disagree with the send: a text too long
for the step's sender and a manual link with no manual (the Templates editor checked
neither), and a manual link from the step's per-product content (the Templates editor
rendered it empty).
"""

from __future__ import annotations

import html

import pytest

from core.campaigns import create_campaign
from core.compose import NO_MANUAL
from core.models import Message, Order, Template
from core.send_now import send_step_now
from core.store import store_orders
from core.templates import save_language
from tests.conftest import order_data
from tests.support.campaigns import INSTRUCTIONS_STEP, PUSHY_TEXT
from tests.support.campaigns import INSTRUCTIONS_TEXT as GOOD
from tests.support.web import csrf_token
from web.campaigns.preview import build_preview
from web.message_templates import preview as template_preview

MANUAL = "https://example.com/manuals/sku-1.pdf"
WITH_MANUAL = GOOD + " The manual is at {{ manual_link }}."
TOO_LONG = GOOD + " Rinse it after use." * 120  # > 2000 characters once rendered
# Amazon's Messaging API: 2000 characters at most; a test campaign sends dry-run.
STEP = dict(INSTRUCTIONS_STEP, sender="amazon_messaging")


@pytest.fixture
def order(engine, account) -> Order:
    data = order_data("US", delivered_days_ago=3, sku="SKU-1")
    store_orders(account, [data], "test")
    return Order.get(Order.order_id == data.order_id)


def make_step(engine, body: str, product_content=None):
    template = Template.create(
        name="Set-up guide", channel="messaging", message_type="product_instructions"
    )
    save_language(template, "en", "", body)
    campaign = create_campaign(engine, "Instructions", [dict(STEP, template=template.id)])
    campaign.status = "test"  # the dry-run sender: nothing reaches Amazon
    campaign.save()
    step = campaign.steps.get()
    if product_content is not None:
        step.product_content = product_content
        step.save()
    return template, step


def three_ways(engine, order, template, step, body: str) -> dict:
    """(text, blocking reason or "") from each of the three paths."""
    shown = build_preview(engine, step, order, "en", "", body)
    assert not shown["error"].startswith("The text cannot be rendered"), shown["error"]
    step_reason = shown["problems"][0] if shown["problems"] else ""

    tpl = template_preview.preview(
        engine, template, language="en", subject="", body=body, order=order
    )
    assert not tpl.errors, tpl.errors
    lint = [f["rule_id"] for f in tpl.findings if f["severity"] == "error"]
    tpl_reason = (
        f"skipped: {tpl.problems[0]}"
        if tpl.problems
        else (f"skipped: compliance {', '.join(dict.fromkeys(lint))}" if lint else "")
    )

    send_step_now(engine, order, step, by="test")
    message = Message.get((Message.order == order.id) & (Message.step == step.id))
    # A skipped message keeps no text: then the send's reason is what is compared.
    sent = message.body if message.state == "sent" else None
    return {
        "step editor": (shown["text"], step_reason),
        "templates editor": (tpl.text, tpl_reason),
        "dispatch": (sent, message.reason if message.state == "skipped" else ""),
        "state": message.state,
    }


def test_a_good_text_previews_and_sends_the_same(engine, order):
    template, step = make_step(engine, GOOD)
    got = three_ways(engine, order, template, step, GOOD)
    assert got["state"] == "sent"
    assert got["step editor"] == got["templates editor"] == got["dispatch"]
    assert got["dispatch"][0].startswith(f"Order {order.order_id}: here is how")


def test_a_manual_link_from_the_step_is_rendered_in_both_previews(engine, order):
    """The Templates editor used to render ``{{ manual_link }}`` empty (no message)."""
    template, step = make_step(engine, WITH_MANUAL, {"SKU-1": {"manual_link": MANUAL}})
    got = three_ways(engine, order, template, step, WITH_MANUAL)
    assert got["state"] == "sent"
    assert got["step editor"] == got["templates editor"] == got["dispatch"]
    assert got["dispatch"][0].endswith(f"The manual is at {MANUAL}.")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (WITH_MANUAL, f"skipped: {NO_MANUAL}"),
        (TOO_LONG, "amazon_messaging allows 2000"),
        (PUSHY_TEXT, "skipped: compliance"),
    ],
    ids=["no manual", "too long", "compliance"],
)
def test_a_text_that_would_be_skipped_says_so_the_same_everywhere(engine, order, body, reason):
    """The Templates editor used to say nothing about a missing manual or the length."""
    template, step = make_step(engine, body)
    got = three_ways(engine, order, template, step, body)
    assert got["state"] == "skipped"
    assert got["step editor"] == got["templates editor"]
    assert got["step editor"][1] == got["dispatch"][1]
    assert reason in got["dispatch"][1]


def test_the_editor_pages_show_the_reason_a_send_would_give(signed_in, engine, order):
    template, step = make_step(engine, TOO_LONG)
    url = f"/campaigns/{step.campaign_id}/steps/{step.id}"
    fragment = signed_in.post(
        url + "/preview",
        data={
            "language": "en",
            "subject": "",
            "body": TOO_LONG,
            "order": str(order.id),
            "csrf_token": csrf_token(signed_in, url),
        },
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    said = "This message would be skipped for this order: text is"
    assert said in html.unescape(fragment) and "amazon_messaging allows 2000" in fragment

    page = signed_in.post(
        f"/templates/{template.id}/preview",
        data={
            "language": "en",
            "subject": "",
            "body": TOO_LONG,
            "theme": "",
            "order": str(order.id),
            "csrf_token": csrf_token(signed_in, f"/templates/{template.id}"),
        },
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "This message would be skipped for order" in page
    assert "amazon_messaging allows 2000" in page
