"""The campaign step editor refuses a text that cannot render, exactly as the Templates
editor does, and warns when the template it edits is shared with other campaigns."""

from __future__ import annotations

import html

import pytest

from core.campaigns import create_campaign
from core.models import Template, TemplateVersion
from core.store import store_orders
from core.templates import save_language
from tests.conftest import order_data
from tests.support.campaigns import INSTRUCTIONS_STEP as INSTRUCTIONS
from tests.support.campaigns import INSTRUCTIONS_TEXT as GOOD
from tests.support.web import csrf_token


def shared_template() -> Template:
    template = Template.create(
        name="Set-up guide", channel="messaging", message_type="product_instructions"
    )
    save_language(template, "en", "", GOOD)
    return template


def versions(template: Template) -> int:
    return TemplateVersion.select().where(TemplateVersion.template == template).count()


def save_text(client, step, body, order=""):
    url = f"/campaigns/{step.campaign_id}/steps/{step.id}"
    return client.post(
        url + "/text",
        data={
            "language": "en",
            "subject": "",
            "body": body,
            "order": order,
            "csrf_token": csrf_token(client, url),
        },
    )


@pytest.fixture(params=["with orders", "without orders"])
def orders(request, engine, account):
    """The check runs on the preview order, or on example values when there is none."""
    if request.param == "with orders":
        store_orders(account, [order_data("US", delivered_days_ago=3)], "test")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (GOOD + " Reply to {{ buyer_email }}.", "unknown placeholder 'buyer_email'"),
        (GOOD.replace("{{ order_id }}", "{{ order_id|uper }}"), "uper"),
        (GOOD + " {% if %}", "syntax error"),
    ],
)
def test_unrenderable_text_is_refused_and_nothing_is_stored(signed_in, engine, orders, body, named):
    template = shared_template()
    step = create_campaign(
        engine, "Instructions", [dict(INSTRUCTIONS, template=template.id)]
    ).steps.get()
    response = save_text(signed_in, step, body)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert named in page and "Not saved" in page
    assert body in page  # what the seller typed stays in the form
    assert versions(template) == 1


def test_a_step_without_template_gets_none_created_for_a_refused_text(signed_in, engine, orders):
    step = create_campaign(engine, "Instructions", [INSTRUCTIONS]).steps.get()
    response = save_text(signed_in, step, GOOD + " {{ buyer_email }}")
    assert response.status_code == 422
    assert Template.select().count() == 0
    assert save_text(signed_in, step, GOOD).status_code == 302  # a good text still saves
    assert Template.select().count() == 1


def test_a_step_whose_stored_rules_cannot_run_gets_no_template_and_no_500(signed_in, engine):
    from core.models import Step

    step = create_campaign(engine, "Instructions", [INSTRUCTIONS]).steps.get()
    Step.update(rules=[{"rule": "item_count", "params": {"min": "two"}}]).where(
        Step.id == step.id
    ).execute()  # stored before values were validated
    response = save_text(signed_in, step, GOOD)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "min: 'two' is not a whole number" in page
    assert Template.select().count() == 0


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        (" Reply to {{ buyer_email }}.", "Body: unknown placeholder 'buyer_email' on line 1"),
        (" {{ order_id|uper }}", "Body: syntax error: No filter named 'uper'"),
    ],
)
def test_templates_editor_refuses_the_same_text_with_the_same_words(
    signed_in, engine, typed, words
):
    template = shared_template()
    step = create_campaign(
        engine, "Instructions", [dict(INSTRUCTIONS, template=template.id)]
    ).steps.get()
    body = GOOD + typed
    from_step = html.unescape(save_text(signed_in, step, body).get_data(as_text=True))
    url = f"/templates/{template.id}"
    from_templates = signed_in.post(
        url,
        data={
            "language": "en",
            "subject": "",
            "body": body,
            "csrf_token": csrf_token(signed_in, url),
        },
    )
    assert from_templates.status_code == 422
    assert words in html.unescape(from_templates.get_data(as_text=True))
    assert words in from_step
    assert versions(template) == 1


def test_step_editor_lists_the_other_campaigns_sharing_the_template(signed_in, engine):
    template = shared_template()
    eng = engine
    mine = create_campaign(eng, "Mugs", [dict(INSTRUCTIONS, template=template.id)])
    create_campaign(eng, "Lamps", [dict(INSTRUCTIONS, template=template.id)])
    other = Template.create(name="Other", channel="messaging", message_type="x")
    ab = [
        {"template": t.id, "weight": 1, "label": label}
        for t, label in ((other, "A"), (template, "B"))
    ]
    create_campaign(eng, "Desks", [dict(INSTRUCTIONS, template=other.id, variants=ab)])
    create_campaign(eng, "Unrelated", [INSTRUCTIONS])
    step = mine.steps.get()
    page = html.unescape(
        signed_in.get(f"/campaigns/{mine.id}/steps/{step.id}").get_data(as_text=True)
    )
    warning = page.split('class="hint camp-shared"', 1)[1].split("</p>", 1)[0]
    assert "Lamps" in warning and "Desks" in warning  # as its text, or as an A/B variant
    assert "Unrelated" not in warning and "Mugs" not in warning
