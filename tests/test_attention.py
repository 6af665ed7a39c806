""" "Needs your attention": every problem a seller must act on, each in a plain sentence
with its action, read from real rows made by the core's own planning and dispatch."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.attention import attention, total, unreachable_since
from core.clock import utcnow
from core.contracts import FAILED, IN_DOUBT, RETRY, SENT, SKIPPED
from core.dispatch import dispatch_due
from core.models import Attempt, SellerAccount, Template, TemplateVariant, TemplateVersion
from core.planning import plan_all
from tests.support.outbox import add_message, campaign_step, stored_order
from tests.support.web import login, make_admin

RAW_GRANT = (
    "sync failed: ('invalid_grant', 'The request has an invalid grant parameter : "
    "refresh_token', 400)"
)


def broken_template_step():
    """An active dry-run step whose template has a misspelt filter: it cannot render."""
    template = Template.create(name="Manual", channel="messaging", message_type="x")
    version = TemplateVersion.create(template=template, number=1)
    TemplateVariant.create(version=version, language="en", body="Order {{ order_id|uper }}")
    return campaign_step(
        "Manuals", message_type="product_instructions", template=template, rules=[]
    )


def unreachable_for(account, step, minutes: int):
    """Attempts to reach Amazon: one answered 3 h ago, then connection failures since
    ``minutes`` ago."""
    order = stored_order(account)
    m = add_message(order, step, RETRY, sender="amazon_messaging", dry_run=False)
    now = utcnow()
    Attempt.create(
        message=m,
        started_at=now - timedelta(hours=3),
        finished_at=now - timedelta(hours=3),
        outcome=SENT,
        detail="Amazon accepted the message",
    )
    for ago in (minutes, minutes // 2, 1):
        Attempt.create(
            message=m,
            started_at=now - timedelta(minutes=ago),
            finished_at=now - timedelta(minutes=ago),
            outcome=RETRY,
            detail="could not connect to Amazon: [Errno 111] Connection refused",
        )
    return m


@pytest.fixture
def problems(engine, account):
    """One problem of every kind."""
    step = broken_template_step()
    stored_order(account)
    plan_all(engine)
    dispatch_due(engine)  # the template cannot render: failed, with the error
    review = campaign_step("Reviews", rules=[])
    doubt = add_message(
        stored_order(account), review, IN_DOUBT, error="no answer after the request was sent"
    )
    not_offered = add_message(
        stored_order(account),
        review,
        SKIPPED,
        reason="skipped: Amazon never offered Request a Review for this order (asked daily "
        "until the window's latest possible close on 2026-11-30)",
    )
    broken = SellerAccount.create(
        name="EU shop", source="amazon", status="error", status_message=RAW_GRANT
    )
    unreachable_for(account, review, 90)
    return {"step": step, "doubt": doubt, "not_offered": not_offered, "account": broken}


def test_every_kind_of_problem_is_gathered_with_a_plain_sentence(problems):
    groups = {g.kind: g for g in attention()}
    kinds = ["in_doubt", "failed", "account", "unreachable", "template", "not_offered"]
    assert list(groups) == kinds
    (doubt,) = groups["in_doubt"].problems
    assert f"Message #{problems['doubt'].id}" in doubt.sentence
    assert "Seller Central" in doubt.sentence and doubt.action == "Resolve"
    (failed,) = groups["failed"].problems
    assert "failed: template error in 'Manual'" in failed.sentence and failed.action == "Retry"
    (acct,) = groups["account"].problems
    # The raw library tuple becomes what Test connection would say, with what to do.
    assert "('invalid_grant'" not in acct.sentence
    assert "Authorize the app again in Seller Central" in acct.sentence
    assert acct.link == ("account", {"account_id": problems["account"].id})
    (down,) = groups["unreachable"].problems
    assert "Amazon has not been reachable for 2 hour(s)" in down.sentence
    (tmpl,) = groups["template"].problems
    assert "Template 'Manual' cannot be rendered: 1 message(s) failed" in tmpl.sentence
    assert tmpl.link == ("template", {"template_id": problems["step"].template_id})
    (gone,) = groups["not_offered"].problems
    assert "stopped offering Request a Review" in gone.sentence
    assert gone.link == ("order", {"order_pk": problems["not_offered"].order_id})
    assert total(list(groups.values())) == 6


def test_amazon_down_for_less_than_an_hour_is_not_yet_a_problem(engine, account):
    step = campaign_step("Reviews", rules=[])
    unreachable_for(account, step, 40)
    assert unreachable_since() is not None
    assert [g.kind for g in attention()] == []


def test_amazon_answering_again_clears_unreachable(engine, account):
    step = campaign_step("Reviews", rules=[])
    m = unreachable_for(account, step, 120)
    assert [g.kind for g in attention()] == ["unreachable"]
    Attempt.create(message=m, finished_at=utcnow(), outcome=SENT, detail="Amazon accepted it")
    assert unreachable_since() is None
    assert attention() == []


def test_a_template_never_saved_is_named_before_anything_fails(engine, account):
    template = Template.create(name="Draft thanks", channel="messaging")
    campaign_step("Thanks", message_type="product_instructions", template=template)
    (group,) = attention()
    assert group.kind == "template"
    assert "'Draft thanks'" in group.problems[0].sentence
    assert "never been saved" in group.problems[0].sentence


def test_the_page_lists_each_problem_with_its_action(app, client, problems):
    login(client)
    page = client.get("/attention/").get_data(as_text=True)
    assert "Needs your attention" in page
    assert f'href="/accounts/{problems["account"].id}/edit"' in page
    assert f'href="/orders/{problems["not_offered"].order_id}"' in page
    assert f'href="/templates/{problems["step"].template_id}"' in page
    assert f"/messages/{problems['doubt'].id}#resolve" in page
    assert page.count(">Retry</button>") == 1
    dashboard = client.get("/").get_data(as_text=True)
    assert "Authorize the app again in Seller Central" in dashboard
    assert "(6)" in dashboard


def test_a_viewer_sees_the_problems_but_no_retry_button(app, client, problems):
    make_admin("watcher", role="viewer")
    login(client, "watcher")
    page = client.get("/attention/").get_data(as_text=True)
    assert "failed: template error" in page
    assert ">Retry</button>" not in page


def test_nothing_to_do_says_so(app, client):
    login(client)
    page = client.get("/attention/").get_data(as_text=True)
    assert "Nothing needs you" in page
    assert FAILED not in [g.kind for g in attention()]


def test_syncs_failing_to_reach_amazon_for_over_an_hour(engine):
    from core.sync import sync_account

    class Down:
        """An order source whose server is unreachable."""

        def __init__(self):
            import httpx

            self.error = httpx.ConnectError("[Errno 111] Connection refused")

        def fetch(self, engine, account, since, progress):
            raise self.error
            yield  # a generator, like a real source

    shop = SellerAccount.create(
        name="US shop",
        source="demo",
        marketplaces=["US"],
        status="ok",
        last_sync_at=utcnow() - timedelta(minutes=30),
    )
    source = engine.sources["demo"]
    down = Down()
    from dataclasses import replace

    engine.sources["demo"] = replace(source, fetch=down.fetch)
    sync_account(engine, shop.id)
    shop = SellerAccount.get_by_id(shop.id)
    assert shop.status_message.startswith("sync failed: could not reach Amazon")
    assert [g.kind for g in attention()] == ["account"]  # 30 min: not yet "unreachable"
    SellerAccount.update(last_sync_at=utcnow() - timedelta(hours=3)).execute()
    kinds = [g.kind for g in attention()]
    assert kinds == ["account", "unreachable"]
    (down_group,) = [g for g in attention() if g.kind == "unreachable"]
    assert "not been reachable for 3 hour(s)" in down_group.problems[0].sentence
