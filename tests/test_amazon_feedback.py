"""Seller feedback, end to end against the fake SP-API: the seller-feedback report read
through the Reports API's document flow on the plugin's schedule, stored per order, and
a negative feedback stopping that order's review request with the reason in its trace."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import Decision, FeedbackRead, Message, Order, SellerFeedback
from plugins.amazon import feedback
from plugins.amazon.feedback import FeedbackReportError, parse_feedback
from tests.fake_spapi.harness import amazon_settings, connect, review_step, sync_and_plan
from tests.fake_spapi.reports import FEEDBACK
from tests.support.web import login, make_admin
from web import create_app

pytestmark = pytest.mark.usefixtures("fresh_limiter")

BAD, MEH, GOOD = "302-9100000-0000001", "302-9100000-0000002", "302-9100000-0000003"
US_ORDER = "114-9100000-0000004"


def setup(make_engine, fake, marketplaces=("DE",), region="EU", **settings):
    engine = make_engine(
        plugin_settings=amazon_settings(fake, report_poll_seconds=0.01, **settings)
    )
    return engine, connect(engine, marketplaces=marketplaces, region=region)


def signed_in_client(engine):
    app = create_app(engine=engine)
    app.config["TESTING"] = True
    make_admin()
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def order_page(engine, order_pk: int) -> str:
    return signed_in_client(engine).get(f"/orders/{order_pk}").get_data(as_text=True)


def seed(fake):
    for oid in (BAD, MEH, GOOD):
        fake.add_order(oid, delivered_days_ago=8)
    fake.add_feedback(BAD, 1, days_ago=2, comments="Kam kaputt an, keine Antwort.")
    fake.add_feedback(MEH, 3, days_ago=1, comments="Geht so.", response="Danke!")
    fake.add_feedback(GOOD, 5, days_ago=1, comments="Super")


# -- the file -----------------------------------------------------------------------


def test_german_file_is_read_day_first_by_column_name():
    text = (
        "Datum\tBewertung\tKommentare\tIhre Antwort\tBestellnummer\tE-Mail\n"
        "03.11.26\t2\tZu spät\t\t302-1-2\tx@marketplace.amazon.de\n"
    )
    [row] = parse_feedback(text, "DE")
    assert (row.order_id, row.rating, row.comments) == ("302-1-2", 2, "Zu spät")
    assert (row.left_at.year, row.left_at.month, row.left_at.day) == (2026, 11, 3)


def test_us_file_is_read_month_first_and_columns_in_any_order():
    text = "Order ID\tRating\tDate\tComments\n114-1-2\t3\t11/03/26\tOK\n"
    [row] = parse_feedback(text, "US")
    assert (row.left_at.month, row.left_at.day, row.rating) == (11, 3, 3)


def test_a_file_that_is_not_a_feedback_report_names_what_is_missing():
    with pytest.raises(FeedbackReportError, match="no rating, order_id column"):
        parse_feedback("Date\tSomething\n01/02/26\tx\n", "US")
    with pytest.raises(FeedbackReportError, match="line 2: rating 'five'"):
        parse_feedback("Date\tRating\tOrder ID\n01/02/26\tfive\t1-2-3\n", "US")


# -- the document flow and the schedule ----------------------------------------------


def test_the_job_reads_the_report_through_the_document_flow(make_engine, fake):
    seed(fake)
    fake.report_polls = 2
    fake.report_gzip = True
    engine, account = setup(make_engine, fake)
    assert "amazon_feedback" in engine.jobs
    assert engine.jobs["amazon_feedback"].run(engine) == 3
    stored = {f.order_id: (f.rating, f.marketplace, f.comments) for f in SellerFeedback.select()}
    assert stored == {
        BAD: (1, "DE", "Kam kaputt an, keine Antwort."),
        MEH: (3, "DE", "Geht so."),
        GOOD: (5, "DE", "Super"),
    }
    [create] = fake.calls_of("createReport")
    assert create.body["reportType"] == FEEDBACK
    assert create.body["marketplaceIds"] == ["A1PA6795UKMFR9"]
    assert create.body["dataStartTime"] < create.body["dataEndTime"]
    assert fake.count("getReport") == 3  # IN_QUEUE, IN_PROGRESS, DONE
    assert fake.count("getReportDocument") == 1 and fake.count("downloadReportDocument") == 1
    read = FeedbackRead.get()
    assert read.last_error == "" and read.read_until is not None
    # Within feedback_hours nothing is asked again: the rate limits are Amazon's.
    assert engine.jobs["amazon_feedback"].run(engine) == 0
    assert fake.count("createReport") == 1


def test_the_next_read_starts_where_the_last_ended(make_engine, fake):
    seed(fake)
    engine, account = setup(make_engine, fake)
    assert feedback.read_account(engine, account) == 3
    first_end = FeedbackRead.get().read_until
    fake.add_order("302-9100000-0000009")
    fake.add_feedback("302-9100000-0000009", 2, days_ago=0.2, comments="Falsche Farbe")
    assert feedback.read_account(engine, account) == 1  # the new one; the rest unchanged
    second = fake.calls_of("createReport")[1].body
    # a day of overlap: the report counts whole days
    assert second["dataStartTime"] == feedback._iso(first_end - timedelta(days=1))
    assert SellerFeedback.select().count() == 4


def test_a_us_account_reads_its_month_first_file(make_engine, fake):
    fake.add_order(US_ORDER, marketplace_id="ATVPDKIKX0DER")
    fake.add_feedback(US_ORDER, 2, days_ago=3)
    engine, account = setup(make_engine, fake, marketplaces=("US",), region="NA")
    feedback.read_account(engine, account)
    row = SellerFeedback.get()
    assert row.order_id == US_ORDER and row.rating == 2 and row.marketplace == "US"
    assert row.left_at.date() == (utcnow() - timedelta(days=3)).date()


def test_a_failed_report_is_recorded_and_not_retried_until_the_next_run(make_engine, fake):
    seed(fake)
    fake.report_outcome = "FATAL"
    engine, account = setup(make_engine, fake)
    assert feedback.run(engine) == 0
    read = FeedbackRead.get()
    assert "could not build the feedback report (FATAL)" in read.last_error
    assert read.read_until is None
    assert feedback.run(engine) == 0 and fake.count("createReport") == 1
    assert not SellerFeedback.select().exists()


def test_feedback_hours_zero_reads_nothing(make_engine, fake):
    seed(fake)
    engine, account = setup(make_engine, fake, feedback_hours=0)
    assert feedback.run(engine) == 0 and fake.count("createReport") == 0


# -- the veto ----------------------------------------------------------------------


def test_negative_feedback_stops_the_review_request_with_the_reason_in_the_trace(make_engine, fake):
    seed(fake)
    engine, account = setup(make_engine, fake)
    review_step()
    sync_and_plan(engine, account)
    assert Message.select().where(Message.state == "scheduled").count() == 3
    feedback.run(engine)
    Message.update(due_at=utcnow()).execute()
    dispatch_due(engine)
    states = {
        m.order.order_id: (m.state, m.reason) for m in Message.select(Message, Order).join(Order)
    }
    assert states[BAD][0] == "skipped"
    assert "negative seller feedback" in states[BAD][1] and "1 of 5 stars" in states[BAD][1]
    assert states[MEH][0] == "sent" and states[GOOD][0] == "sent"  # neutral does not veto
    assert BAD not in fake.solicited and fake.solicited[MEH] == 1
    # the order's page (its trace) says why, and shows the feedback
    bad = Order.get(Order.order_id == BAD)
    page = order_page(engine, bad.id)
    assert "excluded: the buyer left negative seller feedback on this order" in page
    assert "1 ★ negative" in page and "Kam kaputt an, keine Antwort." in page


def test_a_new_order_with_negative_feedback_is_not_planned(make_engine, fake):
    seed(fake)
    engine, account = setup(make_engine, fake)
    review_step()
    feedback.run(engine)
    sync_and_plan(engine, account)
    bad = Order.get(Order.order_id == BAD)
    [decision] = Decision.select().where(Decision.order == bad)
    assert "negative seller feedback" in decision.reason
    assert not Message.select().where(Message.order == bad).exists()


# -- where a seller sees it ---------------------------------------------------------


def test_the_dashboard_alerts_on_negative_and_neutral_feedback(make_engine, fake):
    seed(fake)
    engine, account = setup(make_engine, fake)
    client = signed_in_client(engine)
    assert "Seller feedback to look at" not in client.get("/").get_data(as_text=True)
    feedback.run(engine)
    sync_and_plan(engine, account)  # the orders, so that the alert links them
    page = client.get("/").get_data(as_text=True)
    assert "Seller feedback to look at" in page
    assert "<strong>1 negative</strong> and <strong>1 neutral</strong>" in page
    assert BAD in page and MEH in page and GOOD not in page
    assert f'href="/orders/{Order.get(Order.order_id == BAD).id}"' in page


def test_the_feedback_page_lists_by_rating_and_says_when_it_was_read(make_engine, fake):
    seed(fake)
    engine, account = setup(make_engine, fake)
    client = signed_in_client(engine)
    assert "not read yet" in client.get("/feedback/").get_data(as_text=True)
    feedback.run(engine)
    critical = client.get("/feedback/").get_data(as_text=True)
    assert BAD in critical and MEH in critical and GOOD not in critical
    assert "(not synced)" in critical  # the orders themselves were not synced yet
    everything = client.get("/feedback/?rating=all").get_data(as_text=True)
    assert GOOD in everything and "5 ★ positive" in everything and "Danke!" in everything
    negative = client.get("/feedback/?rating=negative").get_data(as_text=True)
    assert BAD in negative and MEH not in negative
    fake.report_outcome = "FATAL"
    FeedbackRead.update(last_run_at=None).execute()
    feedback.run(engine)
    assert "could not be read" in client.get("/feedback/").get_data(as_text=True)


def test_the_feedback_page_needs_a_login(make_engine, fake):
    engine, account = setup(make_engine, fake)
    app = create_app(engine=engine)
    answer = app.test_client().get("/feedback/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_full_replan_keeps_the_veto(make_engine, fake):
    """The set-based re-plan sends review steps through the veto while negative
    feedback exists (``@for_steps``), with the same outcome as planning order by order."""
    from core.planning_bulk import replan

    seed(fake)
    engine, account = setup(make_engine, fake)
    feedback.run(engine)
    sync_and_plan(engine, account)
    review_step()  # a new campaign: the full re-plan plans it for every stored order
    replan(engine)
    bad = Order.get(Order.order_id == BAD)
    assert not Message.select().where(Message.order == bad).exists()
    reasons = [d.reason for d in Decision.select().where(Decision.order == bad)]
    assert reasons and all("negative seller feedback" in r for r in reasons), reasons
    assert Message.select().where(Message.state == "scheduled").count() == 2
