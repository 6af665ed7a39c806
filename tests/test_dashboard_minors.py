"""Dashboard details a seller noticed: sent messages count on the day they went out,
the daily-limit bar says dry runs do not count, cached tiles follow a change at once,
"N without one" lists exactly those orders, empty tiles are not red."""

from __future__ import annotations

import re
from datetime import timedelta

from core.clock import utcnow
from core.dispatch import dispatch_due
from core.planning import plan_orders
from tests.support.outbox import add_message, campaign_step, stored_order


def card(page: str, key: str) -> tuple[str, int, str]:
    found = re.search(
        rf'<a class="card state-{key}( zero)?" href="([^"]+)"><span class="num">(\d+)<', page
    )
    return found.group(2).replace("&amp;", "&"), int(found.group(3)), found.group(1) or ""


def test_a_message_due_days_ago_and_sent_today_counts_today(signed_in, account):
    step = campaign_step()
    order = stored_order(account, delivered_days_ago=8)
    now = utcnow()
    add_message(order, step, "sent", due_at=now - timedelta(days=3), sent_at=now)
    page = signed_in.get("/").get_data(as_text=True)
    today = re.search(rf'<th scope="row">{now:%Y-%m-%d}</th>(.*?)</tr>', page).group(1)
    assert re.findall(r">(\d+)<", today)[0] == "1"
    before = now - timedelta(days=3)
    then = re.search(rf'<th scope="row">{before:%Y-%m-%d}</th>(.*?)</tr>', page).group(1)
    assert re.findall(r">(\d+)<", then)[0] == "0"
    link, total, _ = card(page, "sent")
    assert total == 1 and "by=sent" in link
    listed = signed_in.get(link).get_data(as_text=True)
    assert f">{order.order_id}<" in listed


def test_the_daily_limit_bar_says_dry_runs_do_not_count(signed_in, engine, account):
    campaign_step(delay_days=0)
    stored_order(account, delivered_days_ago=8)
    plan_orders(engine, [o.id for o in account.orders])
    dispatch_due(engine)
    page = signed_in.get("/").get_data(as_text=True)
    assert "0 / 600 today (0%); 1 dry run not counted" in page
    assert "Dry runs and test campaigns do not count" in page


def test_cached_tiles_follow_a_change_at_once(signed_in, engine, account):
    step = campaign_step()
    first = stored_order(account, delivered_days_ago=8)
    yesterday = utcnow() - timedelta(days=1)
    add_message(first, step, "skipped", due_at=yesterday)
    assert card(signed_in.get("/").get_data(as_text=True), "skipped")[1] == 1
    # The worker (another process) ends another message of yesterday: no cache clear
    # happens in this process, yet the page must count it.
    second = stored_order(account, delivered_days_ago=8)
    add_message(second, step, "skipped", due_at=yesterday)
    assert card(signed_in.get("/").get_data(as_text=True), "skipped")[1] == 2


def test_zero_tiles_are_not_red(signed_in, account):
    page = signed_in.get("/").get_data(as_text=True)
    assert card(page, "failed")[2] == " zero"
    assert 'class="card state-in_doubt zero"' in page
    step = campaign_step()
    add_message(stored_order(account), step, "failed", due_at=utcnow())
    assert card(signed_in.get("/").get_data(as_text=True), "failed")[2] == ""


def test_without_one_links_to_exactly_those_orders_with_why(signed_in, account):
    step = campaign_step()
    covered = stored_order(account, delivered_days_ago=8)
    add_message(covered, step, "sent", sent_at=utcnow())
    both = stored_order(account, delivered_days_ago=9)  # sent and another planned: covered
    add_message(both, step, "sent", sent_at=utcnow())
    add_message(both, campaign_step("Again"), "scheduled")
    quiet = stored_order(account, delivered_days_ago=10)  # eligible, nothing planned
    skipped = stored_order(account, delivered_days_ago=11)
    add_message(skipped, step, "skipped", reason="skipped: Amazon never offered it")
    stored_order(account, delivered_days_ago=2)  # window not open yet: not eligible
    page = signed_in.get("/").get_data(as_text=True)
    assert '<a href="/coverage/missing"><strong>2</strong> without one</a>' in page
    listed = signed_in.get("/coverage/missing").get_data(as_text=True)
    ids = re.findall(r">(\d{3}-\d{7}-\d{7})<", listed)
    assert ids == [quiet.order_id, skipped.order_id]
    assert "No review request: Amazon never offered it." in listed
    assert "Nothing planned: no active campaign step applies" in listed
