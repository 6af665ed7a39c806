"""The Campaigns pages through Flask's test client: list, create from a preset, step
editor (422 on bad input), live preview with compliance findings, activation refused
then accepted, pause, dry run, and the viewer role."""

from __future__ import annotations

import re

import pytest

from core import Preset, hookimpl
from core.models import AuditLog, Campaign, Message, Step, Template, TemplateVersion, User
from core.store import store_orders
from tests.conftest import order_data
from tests.support.campaigns import INSTRUCTIONS_STEP as INSTRUCTIONS
from tests.support.campaigns import INSTRUCTIONS_TEXT as COMPLIANT
from tests.support.campaigns import PUSHY_TEXT as PUSHY
from tests.support.campaigns import REVIEW_STEP, step_form
from tests.support.web import csrf_token, login, make_admin
from web import create_app

# Activation with the orders of the last 30 days (the page defaults to new orders only).
BACKLOG_30 = {"orders": "days", "days": "30"}

REVIEW = dict(REVIEW_STEP, delay_days=5)


class PresetPlugin:
    """A throw-away plugin offering one two-step preset for every marketplace."""

    @hookimpl
    def default_sequences(self, engine, marketplace, fulfillment):
        return [
            Preset(
                f"test-{fulfillment.lower()}",
                f"Instructions and review ({fulfillment})",
                marketplace,
                fulfillment,
                (INSTRUCTIONS, dict(REVIEW, anchor="review_window")),
                "Sends set-up instructions, then Amazon's Request a Review.",
            )
        ]


@pytest.fixture
def engine(make_engine):
    return make_engine(extra_plugins=[("test_presets", PresetPlugin())])


@pytest.fixture
def orders(engine, account):
    datas = [order_data("US", delivered_days_ago=d, days_ago=d + 4) for d in (2, 6, 9)]
    datas.append(order_data("US", delivered_days_ago=None, days_ago=3))
    store_orders(account, datas, "test")
    return datas


def token(client):
    return csrf_token(client, "/campaigns/new")


def create_preset(client, fulfillment="FBA"):
    response = client.post(
        "/campaigns/new",
        data={
            "preset": f"test-{fulfillment.lower()}",
            "marketplace": "US",
            "fulfillment": fulfillment,
            "csrf_token": token(client),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return Campaign.get(Campaign.preset == f"test-{fulfillment.lower()}")


def save_text(client, step, body, language="en"):
    return client.post(
        f"/campaigns/{step.campaign_id}/steps/{step.id}/text",
        data={"language": language, "subject": "", "body": body, "csrf_token": token(client)},
    )


def preview(client, step, body):
    return client.post(
        f"/campaigns/{step.campaign_id}/steps/{step.id}/preview",
        data={"language": "en", "subject": "", "body": body},
        headers={"HX-Request": "true", "X-CSRF-Token": token(client)},
    )


def test_empty_list_says_to_start_from_a_preset(signed_in):
    page = signed_in.get("/campaigns/").get_data(as_text=True)
    assert "No campaigns yet" in page
    assert "Create a campaign from a preset" in page and 'href="/campaigns/new"' in page


def test_presets_follow_marketplace_and_fulfilment_and_create_a_draft(signed_in):
    page = signed_in.get("/campaigns/new?marketplace=DE&fulfillment=FBM").get_data(as_text=True)
    assert "Instructions and review (FBM)" in page and "(FBA)" not in page
    campaign = create_preset(signed_in, "FBM")
    assert campaign.status == "draft" and campaign.name == "Instructions and review (FBM)"
    steps = list(campaign.steps.order_by(Step.position))
    assert [s.name for s in steps] == ["Product instructions", "Request a review"]
    assert steps[1].anchor == "review_window"
    listing = signed_in.get("/campaigns/").get_data(as_text=True)
    assert "Instructions and review (FBM)" in listing and "draft" in listing
    assert AuditLog.select().where(AuditLog.action == "campaign_created").count() >= 1


def test_blank_campaign_needs_a_name_then_gets_steps(signed_in):
    response = signed_in.post("/campaigns/new", data={"name": " ", "csrf_token": token(signed_in)})
    assert response.status_code == 422 and "give the campaign a name" in response.get_data(
        as_text=True
    )
    response = signed_in.post(
        "/campaigns/new", data={"name": "Thank-you notes", "csrf_token": token(signed_in)}
    )
    campaign = Campaign.get(Campaign.name == "Thank-you notes")
    assert response.headers["Location"].endswith(f"/campaigns/{campaign.id}")
    assert "has no steps yet" in signed_in.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    signed_in.post(f"/campaigns/{campaign.id}/steps/new", data={"csrf_token": token(signed_in)})
    signed_in.post(f"/campaigns/{campaign.id}/steps/new", data={"csrf_token": token(signed_in)})
    first, second = campaign.steps.order_by(Step.position)
    signed_in.post(
        f"/campaigns/{campaign.id}/steps/{second.id}/move",
        data={"direction": "up", "csrf_token": token(signed_in)},
    )
    assert [s.id for s in campaign.steps.order_by(Step.position)] == [second.id, first.id]
    signed_in.post(
        f"/campaigns/{campaign.id}/steps/{first.id}/delete",
        data={"confirm": "yes", "csrf_token": token(signed_in)},
    )
    assert [(s.id, s.position) for s in campaign.steps] == [(second.id, 1)]


def test_campaign_page_shows_the_timeline(signed_in):
    campaign = create_preset(signed_in)
    page = signed_in.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "1. " in page and "Product instructions" in page and "Request a review" in page
    assert "5 days after the review-request window opens" in page
    assert "1d 0h after it" in page
    assert "Amazon's own text" in page
    assert "no template yet" in page  # the instructions step still needs its text
    assert "Fix before activating" in page


def test_editing_a_step_saves_rules_and_window(signed_in):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    response = signed_in.post(
        f"/campaigns/{campaign.id}/steps/{step.id}",
        data=step_form(
            step,
            delay_days="3",
            delay_hours="6",
            window_start_hour="8",
            window_end_hour="20",
            weekdays=["0", "1", "2", "3", "4"],
            skip_holidays="1",
            critical="1",
            rule=["sku_include", "marketplace_in", ""],
            **{"p1.values": "MUG-1, LAMP-2", "p2.marketplaces": ["US", "CA"]},
            csrf_token=token(signed_in),
        ),
    )
    assert response.status_code == 302
    step = Step.get_by_id(step.id)
    assert (step.delay_days, step.delay_hours, step.window_start_hour, step.window_end_hour) == (
        3,
        6,
        8,
        20,
    )
    assert step.weekdays == "01234" and step.skip_holidays and step.critical
    assert step.rules == [
        {"rule": "sku_include", "params": {"values": "MUG-1 LAMP-2"}},
        {"rule": "marketplace_in", "params": {"marketplaces": "US CA"}},
    ]
    page = signed_in.get(f"/campaigns/{campaign.id}/steps/{step.id}").get_data(as_text=True)
    assert ">MUG-1, LAMP-2</textarea>" in page and "Mon–Fri, not on holidays" in page
    assert re.search(r'<option value="CA" selected>', page)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"delay_days": "soon"}, "delay_days", "a whole number"),
        ({"window_start_hour": "18", "window_end_hour": "9"}, "window_end_hour", "must end after"),
        ({"weekdays": []}, "weekdays", "pick at least one weekday"),
        ({"trigger": "teleported"}, "trigger", "choose one of"),
        ({"rule": ["item_count"], "p1.min": "-2"}, "params-1", "min: &#39;-2&#39; is below 0"),
        ({"priority": "12"}, "priority", "from 1 to 9"),
    ],
)
def test_bad_step_input_is_422_with_the_field_named(signed_in, changes, field, message):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    response = signed_in.post(
        f"/campaigns/{campaign.id}/steps/{step.id}",
        data=step_form(step, csrf_token=token(signed_in), **changes),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page and message in page
    assert Step.get_by_id(step.id).delay_days == 1  # nothing saved


def test_preview_renders_on_a_real_order_and_flags_a_five_star_request(signed_in, orders):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    fragment = preview(signed_in, step, PUSHY).get_data(as_text=True)
    assert "<html" not in fragment  # a fragment for htmx, not a page
    newest = max(orders, key=lambda o: o.purchased_at)
    assert f"Order {newest.order_id}: here is how to set up your Test product" in fragment
    assert "FU-REVIEW-POSITIVE" in fragment and "honest review" in fragment
    assert re.search(r'<mark class="camp-mark camp-mark-error"[^>]*>5-star</mark>', fragment)
    clean = preview(signed_in, step, COMPLIANT).get_data(as_text=True)
    assert "FU-REVIEW-POSITIVE" not in clean and "<mark" not in clean
    assert "No compliance findings" in clean


def test_preview_without_javascript_reloads_the_page(signed_in, orders):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    response = signed_in.post(
        f"/campaigns/{campaign.id}/steps/{step.id}/preview",
        data={"language": "en", "body": PUSHY, "csrf_token": token(signed_in)},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page
    assert "FU-REVIEW-POSITIVE" in page and "please leave a 5-star review.</textarea>" in page


def test_review_request_step_has_no_text_to_write(signed_in):
    campaign = create_preset(signed_in)
    review = campaign.steps.order_by(Step.position.desc()).first()
    page = signed_in.get(f"/campaigns/{campaign.id}/steps/{review.id}").get_data(as_text=True)
    assert "Amazon sends its own fixed text" in page and 'name="body"' not in page


def test_activation_refused_with_findings_then_accepted_then_paused(signed_in, orders):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    url = f"/campaigns/{campaign.id}/status"
    confirm = signed_in.get(url + "?to=active").get_data(as_text=True)
    assert "choose a template" in confirm and 'name="confirm"' not in confirm

    assert save_text(signed_in, step, PUSHY).status_code == 302
    template = Step.get_by_id(step.id).template
    assert template is not None and TemplateVersion.get(template=template).number == 1
    refused = signed_in.post(
        url, data={**BACKLOG_30, "to": "active", "confirm": "yes", "csrf_token": token(signed_in)}
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "FU-REVIEW-POSITIVE" in page and "5-star" in page
    assert Campaign.get_by_id(campaign.id).status == "draft"

    save_text(signed_in, step, COMPLIANT)
    assert [v.number for v in template.versions.order_by(TemplateVersion.number)] == [1, 2]
    unconfirmed = signed_in.post(url, data={"to": "active", "csrf_token": token(signed_in)})
    assert unconfirmed.status_code == 422 and Campaign.get_by_id(campaign.id).status == "draft"
    confirm = signed_in.get(url + "?to=active").get_data(as_text=True)
    assert 'name="confirm"' in confirm
    accepted = signed_in.post(
        url, data={**BACKLOG_30, "to": "active", "confirm": "yes", "csrf_token": token(signed_in)}
    )
    assert accepted.status_code == 302
    assert Campaign.get_by_id(campaign.id).status == "active"
    assert Message.select().where(Message.campaign == campaign.id).count() > 0
    listing = signed_in.get("/campaigns/").get_data(as_text=True)
    assert "camp-status-active" in listing

    signed_in.post(url, data={"to": "paused", "confirm": "yes", "csrf_token": token(signed_in)})
    assert Campaign.get_by_id(campaign.id).status == "paused"
    waiting = Message.select().where(
        (Message.campaign == campaign.id) & (Message.state == "scheduled")
    )
    assert waiting.count() > 0 and {m.reason for m in waiting} == {"waiting: campaign paused"}


def test_dry_run_counts_sent_and_skipped_with_reasons(signed_in, orders):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    save_text(signed_in, step, COMPLIANT)
    # Only one SKU gets the instructions: the other orders are skipped by the rule.
    Step.update(rules=[{"rule": "sku_include", "params": {"values": "OTHER-SKU"}}]).where(
        Step.id == step.id
    ).execute()
    fragment = signed_in.get(
        f"/campaigns/{campaign.id}/dry-run?days=30", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "<html" not in fragment
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment))
    assert "(4 orders) this campaign would have sent" in text
    assert "skipped 4" in text and "rule: SKU not in campaign" in text
    full = signed_in.get(f"/campaigns/{campaign.id}/dry-run").get_data(as_text=True)
    assert "<html" in full and "Dry run:" in full


def test_library_template_can_be_picked_for_a_step(signed_in):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    response = signed_in.post(
        f"/campaigns/{campaign.id}/steps/{step.id}",
        data=step_form(step, template="lib:product_instructions", csrf_token=token(signed_in)),
    )
    assert response.status_code == 302
    template = Step.get_by_id(step.id).template
    assert template.library_key == "product_instructions"
    page = signed_in.get(f"/campaigns/{campaign.id}/steps/{step.id}").get_data(as_text=True)
    assert "{{ order_id }}" in page  # the library text is in the editor


def test_viewer_can_read_but_not_change(engine, signed_in):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    make_admin("vera", role="viewer")
    viewer = create_app(engine=engine).test_client()
    assert login(viewer, "vera").status_code == 302
    assert viewer.get(f"/campaigns/{campaign.id}").status_code == 200
    page = viewer.get(f"/campaigns/{campaign.id}/steps/{step.id}").get_data(as_text=True)
    assert "Save text as a new version" not in page
    tok = csrf_token(viewer, "/campaigns/")
    for path, data in [
        ("/campaigns/new", {"name": "Mine"}),
        (f"/campaigns/{campaign.id}/steps/{step.id}", step_form(step, delay_days="9")),
        (f"/campaigns/{campaign.id}/steps/{step.id}/text", {"body": COMPLIANT}),
        (f"/campaigns/{campaign.id}/status", {"to": "active", "confirm": "yes"}),
        (f"/campaigns/{campaign.id}/steps/new", {}),
    ]:
        assert viewer.post(path, data={**data, "csrf_token": tok}).status_code == 403, path
    assert Step.get_by_id(step.id).delay_days == 1 and Template.select().count() == 0
    assert Campaign.select().count() == 1
    assert User.get(User.username == "vera").role == "viewer"


def test_preview_prefers_a_recent_order_the_step_would_message(signed_in, engine, account):
    mug, *_ = (
        order_data("US", days_ago=9, sku="MUG-1"),
        order_data("US", days_ago=2, sku="LAMP-2"),
    )
    store_orders(account, [mug, order_data("US", days_ago=2, sku="LAMP-2")], "test")
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    Step.update(rules=[{"rule": "sku_include", "params": {"values": "MUG-1"}}]).where(
        Step.id == step.id
    ).execute()
    fragment = preview(signed_in, step, COMPLIANT).get_data(as_text=True)
    assert f"Order {mug.order_id}:" in fragment and "would not get this step" not in fragment
    Step.update(rules=[{"rule": "sku_include", "params": {"values": "DESK-3"}}]).where(
        Step.id == step.id
    ).execute()
    fragment = preview(signed_in, step, COMPLIANT).get_data(as_text=True)
    assert "This order would not get this step (rule: SKU not in campaign" in fragment


def test_ab_variants_holdout_and_csv_export(signed_in):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    a, b = (Template.create(name=n, channel="messaging") for n in ("Short guide", "Long guide"))
    url = f"/campaigns/{campaign.id}/steps/{step.id}"
    one = signed_in.post(
        url,
        data=step_form(step, variant_template=[str(a.id), ""], csrf_token=token(signed_in)),
    )
    assert one.status_code == 422 and "at least two variants" in one.get_data(as_text=True)
    both = signed_in.post(
        url,
        data=step_form(
            step,
            template=str(a.id),
            variant_template=[str(a.id), str(b.id)],
            variant_weight=["3", "1"],
            holdout_percent="10",
            csrf_token=token(signed_in),
        ),
    )
    assert both.status_code == 302
    step = Step.get_by_id(step.id)
    assert step.variants == [
        {"template": a.id, "weight": 3, "label": "A"},
        {"template": b.id, "weight": 1, "label": "B"},
    ]
    assert step.holdout_percent == 10
    page = signed_in.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "A/B 2 variants, 10% holdout" in page
    csv = signed_in.get(f"{url}/ab.csv")
    assert csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0] == "campaign,step,variant,state,messages"


def test_outcomes_csv_is_attached_to_the_ab_variants(signed_in, orders):
    """Reviews per ASIN and period, uploaded on the campaign page, are credited to the
    variants that messaged that ASIN then; a file with a bad line imports nothing."""
    from io import BytesIO

    from core.abtest import Outcome
    from core.clock import utcnow
    from core.models import Order

    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    Step.update(variants=[{"label": "A", "weight": 1}, {"label": "B", "weight": 1}]).where(
        Step.id == step.id
    ).execute()
    now = utcnow()
    for n, order in enumerate(Order.select().order_by(Order.id)):
        Message.create(
            order=order,
            step=step,
            campaign=campaign,
            account=order.account_id,
            sender="dry_run",
            state="sent",
            due_at=now,
            sent_at=now,
            variant="AB"[n % 2],
        )
    # Variant B's orders are of another product: its reviews can only come from B.
    from core.models import OrderItem

    b_orders = [m.order_id for m in Message.select().where(Message.variant == "B")]
    OrderItem.update(asin="B0TEST0002").where(OrderItem.order.in_(b_orders)).execute()
    day = now.date()
    good = (
        f"asin,metric,period_start,period_end,value\nB0TEST0001,reviews,{day},{day},6\n"
        f"B0TEST0002,reviews,{day},{day},1\n"
    )
    bad = good + "B0OTHER,reviews,not-a-date,2026-01-01,1\n"
    url = f"/campaigns/{campaign.id}/outcomes"
    refused = signed_in.post(
        url, data={"outcomes": (BytesIO(bad.encode()), "o.csv"), "csrf_token": token(signed_in)}
    )
    assert refused.status_code == 422
    assert "line 4: Invalid isoformat string" in refused.get_data(as_text=True)
    assert Outcome.select().count() == 0
    done = signed_in.post(
        url,
        data={"outcomes": (BytesIO(good.encode()), "o.csv"), "csrf_token": token(signed_in)},
        follow_redirects=True,
    )
    page = done.get_data(as_text=True)
    assert "2 outcome row(s) imported" in page
    rows = re.findall(
        r'<tr><td>([AB])</td><td class="num">(\d+)</td><td class="num">([\d.]+)</td>'
        r'<td class="num">([\d.]+)</td></tr>',
        page,
    )
    assert rows == [("A", "2", "6", "300.0"), ("B", "2", "1", "50.0")]
    assert AuditLog.get(AuditLog.action == "outcomes_imported").detail == "2 rows"


def test_presets_of_the_sequences_plugin_open_in_the_editor(make_engine):
    engine = make_engine(plugins={"enabled": ["amazon", "demo", "email", "sequences"]})
    app = create_app(engine=engine)
    make_admin()
    client = app.test_client()
    login(client)
    page = client.get("/campaigns/new?marketplace=DE&fulfillment=FBM").get_data(as_text=True)
    assert "FBM DE: customization check, bulky delivery, then Request a Review" in page
    client.post(
        "/campaigns/new",
        data={
            "preset": "fbm-custom-bulky-review-de",
            "marketplace": "DE",
            "fulfillment": "FBM",
            "csrf_token": token(client),
        },
    )
    campaign = Campaign.get()
    detail = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Fix before activating" not in detail and "Amazon's own Request a Review" in detail
    first = campaign.steps.order_by(Step.position).first()
    editor = client.get(f"/campaigns/{campaign.id}/steps/{first.id}?lang=de").get_data(as_text=True)
    assert "{{ order_id }}" in editor and re.search(r'<option value="customized" selected>', editor)


def test_removing_a_step_of_an_active_campaign_cancels_its_scheduled_messages(signed_in, orders):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    save_text(signed_in, step, COMPLIANT)
    signed_in.post(
        f"/campaigns/{campaign.id}/status",
        data={**BACKLOG_30, "to": "active", "confirm": "yes", "csrf_token": token(signed_in)},
    )
    planned = [m.id for m in Message.select().where(Message.step == step.id)]
    assert planned and all(Message.get_by_id(i).state == "scheduled" for i in planned)
    response = signed_in.post(
        f"/campaigns/{campaign.id}/steps/{step.id}/delete",
        data={"confirm": "yes", "csrf_token": token(signed_in)},
    )
    assert response.status_code == 302
    for message in Message.select().where(Message.id.in_(planned)):
        assert (message.state, message.reason) == (
            "cancelled",
            "cancelled: step removed from the campaign",
        )
    assert [s.position for s in campaign.steps] == [1]


def test_campaign_name_and_account_can_be_changed(signed_in, account):
    campaign = create_preset(signed_in)
    url = f"/campaigns/{campaign.id}"
    bad = signed_in.post(url, data={"name": "", "csrf_token": token(signed_in)})
    assert bad.status_code == 422 and 'id="name-error"' in bad.get_data(as_text=True)
    ok = signed_in.post(
        url,
        data={
            "name": "US reviews",
            "description": "Only the review",
            "account": str(account.id),
            "csrf_token": token(signed_in),
        },
    )
    assert ok.status_code == 302
    campaign = Campaign.get_by_id(campaign.id)
    assert (campaign.name, campaign.description, campaign.account_id) == (
        "US reviews",
        "Only the review",
        account.id,
    )
    assert "Test seller" in signed_in.get("/campaigns/").get_data(as_text=True)


def test_saving_empty_text_is_refused_and_changes_are_audited_with_the_user(signed_in):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    empty = save_text(signed_in, step, "  ")
    assert empty.status_code == 422 and 'id="body-error"' in empty.get_data(as_text=True)
    assert Template.select().count() == 0
    assert save_text(signed_in, step, COMPLIANT, language="de").status_code == 302
    assert [v.language for v in Step.get_by_id(step.id).template.versions.get().variants] == ["de"]
    signed_in.post(
        f"/campaigns/{campaign.id}/status",
        data={"to": "test", "confirm": "yes", "csrf_token": token(signed_in)},
    )
    actions = {(a.action, a.user) for a in AuditLog.select()}
    assert {("campaign_created", "admin"), ("template_saved", "admin")} <= actions
    assert ("campaign_test", "admin") in actions


# -- per-product content, files for the step, remove confirmation, counts ---------------

MANUAL = "https://example.com/manuals/sku-1.pdf"
MANUAL_ONLY = "Order {{ order_id }}: the manual for your {{ product_title }}: {{ manual_link }}"
MANUAL_TEXT = (
    "Order {{ order_id }}: the manual for your {{ product_title }} is at {{ manual_link }} "
    "and a tip: {{ product_content.care_tip }}"
)


def products_form(client, rows, **extra) -> dict:
    """The per-product table as a browser submits it: ``rows`` of (sku, link, extra)."""
    data = {"pc_rows": str(len(rows)), "csrf_token": token(client), **extra}
    for n, (sku, link, more) in enumerate(rows, 1):
        data.update({f"pc-{n}-sku": sku, f"pc-{n}-manual_link": link, f"pc-{n}-extra": more})
    return data


def save_products(client, step, rows, **extra):
    return client.post(
        f"/campaigns/{step.campaign_id}/steps/{step.id}/products",
        data=products_form(client, rows, **extra),
    )


def test_product_content_is_saved_and_used_in_the_preview_for_that_sku(signed_in, orders):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    page = signed_in.get(f"/campaigns/{campaign.id}/steps/{step.id}").get_data(as_text=True)
    assert 'id="product-content"' in page
    assert '<datalist id="campaign-skus"><option value="SKU-1">' in page  # recent orders' SKUs
    response = save_products(
        signed_in,
        step,
        [
            ("SKU-1", MANUAL, "care_tip: Rinse after use"),
            ("*", "", "care_tip: Keep it dry"),
            ("", "", ""),  # the blank row offered for adding
        ],
    )
    assert response.status_code == 302 and response.location.endswith("#product-content")
    assert Step.get_by_id(step.id).product_content == {
        "SKU-1": {"manual_link": MANUAL, "care_tip": "Rinse after use"},
        "*": {"care_tip": "Keep it dry"},
    }
    audit = AuditLog.get(AuditLog.action == "step_product_content")
    assert (audit.user, audit.detail) == ("admin", "*, SKU-1")
    page = signed_in.get(f"/campaigns/{campaign.id}/steps/{step.id}").get_data(as_text=True)
    assert "Per-product content saved for 2 SKUs." in page
    assert 'value="https://example.com/manuals/sku-1.pdf"' in page
    assert "care_tip: Rinse after use</textarea>" in page

    fragment = preview(signed_in, step, MANUAL_TEXT).get_data(as_text=True)
    assert "is at https://example.com/manuals/sku-1.pdf and a tip: Rinse after use" in fragment
    assert "No manual for this product" not in fragment
    assert "FU-LINK" not in fragment  # the manual link is one Amazon allows

    # Remove the SKU-1 row: the order (SKU-1) now gets the "*" row, without a manual.
    save_products(
        signed_in,
        step,
        [("SKU-1", MANUAL, ""), ("*", "", "care_tip: Keep it dry")],
        **{"pc-1-remove": "1"},
    )
    assert Step.get_by_id(step.id).product_content == {"*": {"care_tip": "Keep it dry"}}
    fragment = preview(signed_in, step, MANUAL_TEXT).get_data(as_text=True)
    assert "a tip: Keep it dry" in fragment


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ([("SKU-1", "http://example.com/m.pdf", "")], "pc-1-manual_link", "secure https://"),
        ([("SKU-1", "example.com/m.pdf", "")], "pc-1-manual_link", "secure https://"),
        ([("SKU-1", "https://manual", "")], "pc-1-manual_link", "secure https://"),
        ([("", "https://example.com/m.pdf", "")], "pc-1-sku", "give the SKU"),
        ([("SKU-1", "", ""), ("SKU-1", "", "x: y")], "pc-2-sku", "already in the table"),
        ([("SKU-1", "", "not a key line")], "pc-1-extra", "key: text"),
        ([("SKU-1", "", "manual_link: https://example.com")], "pc-1-extra", "its own column"),
    ],
)
def test_bad_product_content_is_422_with_the_field_named(signed_in, rows, field, message):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    response = save_products(signed_in, step, rows)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page and message in page
    assert f'id="{field}" name="{field}"' in page  # the field is there to correct
    assert "Per-product content not saved" in page
    assert Step.get_by_id(step.id).product_content in ({}, None)  # nothing saved


def test_preview_says_no_manual_and_links_to_the_table_and_files(signed_in, orders):
    from core.attachments import Upload, store

    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    fragment = preview(signed_in, step, MANUAL_ONLY).get_data(as_text=True)
    assert "No manual for this product (SKU-1)" in fragment
    assert f'href="/campaigns/{campaign.id}/steps/{step.id}#product-content"' in fragment
    assert f'href="/files/?step={step.id}&amp;sku=SKU-1"' in fragment
    # The Files page opens with this step pre-selected and the SKU filled in.
    files = signed_in.get(f"/files/?step={step.id}&sku=SKU-1").get_data(as_text=True)
    assert re.search(rf'<option value="step:{step.id}" selected>', files)
    assert 'name="sku" value="SKU-1"' in files
    assert f'href="/campaigns/{campaign.id}/steps/{step.id}#step-files">back to the step' in files
    # A manual stored for the step (and this SKU) satisfies it, and is listed on the step.
    store(
        Upload(
            "Set-up guide",
            "instructions",
            "guide.pdf",
            b"%PDF-1.4 guide",
            step_id=step.id,
            sku="SKU-1",
        ),
    )
    store(Upload("Warranty", "warranty", "warranty.txt", b"Two years.", campaign_id=campaign.id))
    fragment = preview(signed_in, step, MANUAL_ONLY).get_data(as_text=True)
    assert "No manual for this product" not in fragment
    page = signed_in.get(f"/campaigns/{campaign.id}/steps/{step.id}").get_data(as_text=True)
    files_section = page.split('id="step-files"', 1)[1]
    assert "guide.pdf" in files_section and "warranty.txt" in files_section
    assert "every step of the campaign" in files_section and "this step" in files_section
    assert f'href="/files/?step={step.id}#f-name"' in files_section


def test_step_without_files_says_how_to_add_one(signed_in):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    page = signed_in.get(f"/campaigns/{campaign.id}/steps/{step.id}").get_data(as_text=True)
    assert "No files go with this step yet" in page


def test_removing_a_step_without_javascript_asks_first(signed_in, orders):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    detail = signed_in.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    confirm_url = f"/campaigns/{campaign.id}/steps/{step.id}/delete"
    assert f'href="{confirm_url}"' in detail  # a plain link without JavaScript
    assert f'hx-post="{confirm_url}"' in detail and "hx-confirm=" in detail  # a dialog with it
    page = signed_in.get(confirm_url).get_data(as_text=True)
    assert "Remove step 1 “Product instructions”?" in page
    assert "No message of this step is waiting to be sent." in page
    unconfirmed = signed_in.post(confirm_url, data={"csrf_token": token(signed_in)})
    assert unconfirmed.status_code == 422
    assert "Tick the confirmation box" in unconfirmed.get_data(as_text=True)
    assert Step.get_or_none(Step.id == step.id) is not None  # still there
    done = signed_in.post(confirm_url, data={"confirm": "yes", "csrf_token": token(signed_in)})
    assert done.status_code == 302 and done.location.endswith(f"/campaigns/{campaign.id}")
    assert Step.get_or_none(Step.id == step.id) is None
    assert "removed; 0 waiting messages cancelled" in signed_in.get(done.location).get_data(
        as_text=True
    )


def test_removing_a_step_through_htmx_redirects_the_page(signed_in):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    response = signed_in.post(
        f"/campaigns/{campaign.id}/steps/{step.id}/delete",
        data={"confirm": "yes"},
        headers={"HX-Request": "true", "X-CSRF-Token": token(signed_in)},
    )
    assert response.headers["HX-Redirect"] == f"/campaigns/{campaign.id}"
    assert Step.get_or_none(Step.id == step.id) is None


def test_viewer_gets_no_remove_form_and_cannot_remove(engine, signed_in):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    make_admin("vic", role="viewer")
    viewer = create_app(engine=engine).test_client()
    assert login(viewer, "vic").status_code == 302
    page = viewer.get(f"/campaigns/{campaign.id}/steps/{step.id}/delete").get_data(as_text=True)
    assert 'name="confirm"' not in page and "ask an editor" in page
    response = viewer.post(
        f"/campaigns/{campaign.id}/steps/{step.id}/delete",
        data={"confirm": "yes", "csrf_token": csrf_token(viewer, "/campaigns/")},
    )
    assert response.status_code == 403
    assert Step.get_or_none(Step.id == step.id) is not None


def test_list_counts_link_to_the_state_they_count(signed_in, orders):
    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    save_text(signed_in, step, COMPLIANT)
    signed_in.post(
        f"/campaigns/{campaign.id}/status",
        data={**BACKLOG_30, "to": "active", "confirm": "yes", "csrf_token": token(signed_in)},
    )
    planned = list(Message.select().where(Message.campaign == campaign.id).order_by(Message.id))
    assert len(planned) >= 3 and all(m.state == "scheduled" for m in planned)
    Message.update(state="retry").where(Message.id == planned[0].id).execute()
    Message.update(state="in_doubt").where(Message.id == planned[1].id).execute()
    scheduled = len(planned) - 2
    listing = signed_in.get("/campaigns/").get_data(as_text=True)
    base = f"/messages/?campaign={campaign.id}&amp;state="
    assert f'<a href="{base}scheduled">{scheduled}</a>' in listing
    assert f'href="{base}retry">+1 to retry</a>' in listing
    assert f'href="{base}in_doubt">+1 in doubt</a>' in listing
    # Each number is what the linked Messages page lists.
    for state, n in (("scheduled", scheduled), ("retry", 1), ("in_doubt", 1)):
        shown = signed_in.get(f"/messages/?campaign={campaign.id}&state={state}")
        ids = re.findall(r'aria-label="Message (\d+) details"', shown.get_data(as_text=True))
        assert len(ids) == n, state
    detail = signed_in.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'href="{base}scheduled">{scheduled} scheduled</a>' in detail
    assert f'href="{base}retry">1 to retry</a>' in detail


def test_campaign_page_says_when_the_worker_will_re_plan_it(signed_in):
    campaign = create_preset(signed_in)
    page = signed_in.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Re-planning this campaign" not in page
    from core.clock import utcnow

    Campaign.update(replan_requested_at=utcnow()).where(Campaign.id == campaign.id).execute()
    page = signed_in.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Re-planning this campaign's orders in the background" in page


def test_saving_text_in_the_step_editor_keeps_the_templates_email_theme(signed_in):
    from core.templates import save_version

    campaign = create_preset(signed_in)
    step = campaign.steps.order_by(Step.position).first()
    template = Template.create(name="Themed", channel="email", message_type="product_instructions")
    first = save_version(template, {"en": {"subject": "Hi", "body": COMPLIANT}})
    TemplateVersion.update(theme="boxed").where(TemplateVersion.id == first.id).execute()
    Step.update(template=template.id).where(Step.id == step.id).execute()
    assert save_text(signed_in, step, COMPLIANT + " Thank you.").status_code == 302
    latest = template.versions.order_by(TemplateVersion.number.desc()).first()
    assert latest.number == 2 and latest.theme == "boxed"
    assert [v.body for v in latest.variants] == [COMPLIANT + " Thank you."]
