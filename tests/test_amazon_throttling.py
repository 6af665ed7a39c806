"""Transient Amazon failures stay transient, against the fake SP-API over real HTTP.

* A 429 on a POST is a *throttled* retry: ``retry_after`` from Amazon's ``Retry-After``
  header, else from when the (account, operation) token bucket has a token again. The
  dispatcher does not count it against ``[dispatch] max_attempts``.
* A read before the send (the "ask first" actions calls, ``getAttributes``) that fails
  for a transient reason (429, 5xx, timeout, refused connection) is re-checked within
  minutes (``core.Waiting.recheck_after``), not after a day.
* A credentials problem (revoked refresh token, 403 on a read) marks the account and
  waits with a reason that says to fix the credentials on the Accounts page.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from sp_api.auth import access_token_client
from sp_api.base.exceptions import SellingApiRequestThrottledException

from core import Attachment, Rendered, Waiting, clock
from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import Message, SellerAccount
from plugins.amazon import client as amazon_client
from plugins.amazon.senders import (
    messaging_preflight,
    messaging_prepare,
    messaging_send,
    review_preflight,
    review_send,
)
from tests.fake_spapi import server as fake_server
from tests.fake_spapi.harness import MANUAL_PDF as PDF  # a minimal PDF
from tests.fake_spapi.harness import (
    connected,
    messaging_step,
    review_step,
    sync_and_plan,
)
from tests.fake_spapi.http import error

ORDER = "302-7777777-1000001"
POST = "createProductReviewAndSellerFeedbackSolicitation"
ACTIONS = "getSolicitationActionsForOrder"

pytestmark = pytest.mark.usefixtures("fresh_limiter")


@pytest.fixture
def amazon(make_engine, fake):
    return connected(make_engine, fake)


@pytest.fixture
def retry_after(monkeypatch):
    """Make the fake's 429s carry ``Retry-After: <value>`` (Amazon sends it sometimes)."""

    def answer_with(value: str) -> None:
        def quota_exceeded():
            reply = error(
                429, "QuotaExceeded", "You exceeded your quota for the requested resource."
            )
            reply.headers["Retry-After"] = value
            return reply

        monkeypatch.setattr(fake_server, "quota_exceeded", quota_exceeded)

    return answer_with


@pytest.fixture
def one_read_try(monkeypatch):
    """Reads are retried inside ``call`` with seconds of back-off; one try keeps the
    tests fast and shows what happens when the retries are used up."""
    monkeypatch.setattr(amazon_client, "READ_RETRIES", 1)


def plan(engine, account, order_id=ORDER, **order) -> Message:
    """Sync the fake's order, plan it and make its message due now."""
    fake_order = order.pop("fake")
    fake_order.add_order(order_id, **order)
    sync_and_plan(engine, account)
    Message.update(due_at=utcnow()).execute()
    return Message.get()


def fast(fake, *operations):
    """Raise the fake's usage plans (its ``x-amzn-RateLimit-Limit`` header follows, and
    so do our buckets), so that many rounds do not wait a second each."""
    for operation in operations or (ACTIONS, POST):
        fake.limits[operation] = (50.0, 50)


def fresh_status(account) -> SellerAccount:
    return SellerAccount.get_by_id(account.id)


# -- 429 on a POST: a throttled retry ----------------------------------------------------


def test_throttled_review_post_waits_for_amazons_retry_after(amazon, fake, retry_after):
    engine, account = amazon
    review_step()
    message = plan(engine, account, fake=fake)
    retry_after("120")
    fake.faults[POST] = ["throttle"]
    result = review_send(engine, message, message.order, None)
    assert (result.status, result.throttled, result.retry_after) == ("retry", True, 120)
    assert "429" in result.detail
    assert fake.solicited[ORDER] == 0
    assert fresh_status(account).status != "error"  # a 429 is nobody's fault


def test_throttled_review_post_without_retry_after_waits_for_the_bucket(amazon, fake):
    engine, account = amazon
    review_step()
    message = plan(engine, account, fake=fake)
    # Amazon's header says 0.2 requests/s: a token is back 5 s after the 429.
    fake.limits[POST] = (0.2, 5)
    fake.faults[POST] = ["throttle"]
    result = review_send(engine, message, message.order, None)
    assert result.status == "retry" and result.throttled
    assert 4.5 <= result.retry_after <= 5.2, result.retry_after


def test_throttled_messaging_post_is_a_throttled_retry(amazon, fake, retry_after):
    engine, account = amazon
    messaging_step("createConfirmDeliveryDetails", {"de": "Wann liefern wir {{ order_id }}?"})
    message = plan(engine, account, fake=fake)
    retry_after("30")
    fake.faults["createConfirmDeliveryDetails"] = ["throttle"]
    result = messaging_send(engine, message, message.order, Rendered("", "Wann liefern wir?"))
    assert (result.status, result.throttled, result.retry_after) == ("retry", True, 30)
    assert ORDER not in fake.messages


def test_throttled_attachment_upload_is_a_throttled_retry(amazon, fake, retry_after):
    engine, account = amazon
    messaging_step("sendInvoice", {"de": "Rechnung"})
    message = plan(engine, account, fake=fake)
    retry_after("45")
    fake.faults["createUploadDestinationForResource"] = ["throttle"]
    rendered = Rendered(
        "", "", attachments=(Attachment("invoice.pdf", "application/pdf", PDF, kind="invoice"),)
    )
    result = messaging_send(engine, message, message.order, rendered)
    assert (result.status, result.throttled, result.retry_after) == ("retry", True, 45)
    assert fake.count("sendInvoice") == 0


# -- transient failures of the reads before a send ---------------------------------------


def _refused(engine):
    """An endpoint nothing listens on (the token still comes from the fake's LWA), as
    config.toml would set it: the Plugins page accepts only Amazon's hosts."""
    from dataclasses import replace
    from types import MappingProxyType

    from core.credentials import account_credentials, save_account_credentials
    from core.models import SellerAccount

    values = dict(engine.settings.values)
    amazon = {**values["plugin_settings"]["amazon"], "endpoint": "http://127.0.0.1:1"}
    values["plugin_settings"] = MappingProxyType({**values["plugin_settings"], "amazon": amazon})
    engine.settings = replace(engine.settings, values=MappingProxyType(values))
    # A changed endpoint needs the secrets entered again (core.credentials): as a seller would.
    for account in SellerAccount.select():
        creds = account_credentials(engine, account, check_binding=False)
        save_account_credentials(engine, account, creds)


READ_FAULTS = {
    "429": (["throttle"], None),
    "500": (["500"], None),
    "503": (["503"], None),
    "500-html": (["500_html"], None),
    "timeout": (["timeout_after_commit"], None),
    "refused": ([], _refused),
}


@pytest.mark.parametrize("fault", list(READ_FAULTS))
def test_transient_read_failure_is_rechecked_within_minutes(make_engine, fake, one_read_try, fault):
    faults, setup = READ_FAULTS[fault]
    fake.hang_seconds = 1.5  # longer than the client's 1 s timeout
    engine, account = connected(make_engine, fake)
    review_step()
    message = plan(engine, account, fake=fake)
    if setup:
        setup(engine)
    fake.faults[ACTIONS] = list(faults)
    reason = review_preflight(engine, message, message.order)
    assert isinstance(reason, Waiting), reason
    assert reason.startswith("waiting:")
    assert 60 <= reason.recheck_after <= 6 * 60, reason.recheck_after
    assert fresh_status(account).status != "error"  # Amazon's trouble, not the seller's
    assert fake.solicited[ORDER] == 0


def test_a_long_retry_after_on_a_read_is_not_slept_through(amazon, fake, retry_after):
    """``call`` retries a throttled read after a short back-off, but a ``Retry-After``
    of minutes would hold a worker thread: the read gives up at once and the message
    is re-checked when Amazon said."""
    engine, account = amazon
    review_step()
    message = plan(engine, account, fake=fake)
    retry_after("240")
    fake.faults[ACTIONS] = ["throttle"]
    reason = review_preflight(engine, message, message.order)
    assert isinstance(reason, Waiting) and reason.recheck_after == 240
    assert fake.throttled == 1 and fake.count(ACTIONS) == 0  # asked once, not again


def test_a_throttled_slow_read_is_not_slept_through_for_its_bucket(amazon, monkeypatch):
    """After a 429 the operation's bucket is emptied: for searchOrders (a call every 3
    minutes) the next token is minutes away, so the read gives up at once, as for a long
    Retry-After. It used to sleep those minutes in the worker thread, which held a worker
    that was asked to stop."""
    _, account = amazon
    calls, slept = [], []

    def sleep(seconds):
        slept.append(seconds)
        if seconds > amazon_client.MAX_INLINE_WAIT:
            raise AssertionError(f"a read slept {seconds:.0f} s for its bucket")

    monkeypatch.setattr(amazon_client.time, "sleep", sleep)
    monkeypatch.setattr(amazon_client.limiter, "_sleep", sleep)

    def throttled():
        calls.append(1)
        raise SellingApiRequestThrottledException([{"code": "QuotaExceeded"}], headers={})

    with pytest.raises(SellingApiRequestThrottledException):
        amazon_client.call(account, "searchOrders", throttled)
    assert calls == [1]


def test_repeated_transient_reads_back_off(amazon, fake, one_read_try):
    engine, account = amazon
    review_step()
    message = plan(engine, account, fake=fake)
    waits = []
    for _ in range(4):
        fake.faults[ACTIONS] = ["503"]
        waits.append(review_preflight(engine, message, message.order).recheck_after)
    assert waits[-1] > waits[0] and all(60 <= w <= 6 * 60 for w in waits), waits
    # a success ends the streak: the next failure starts from the short wait again
    assert review_preflight(engine, message, message.order) is None
    fake.faults[ACTIONS] = ["503"]
    assert review_preflight(engine, message, message.order).recheck_after < waits[-1]


@pytest.mark.parametrize("operation", ["GetAttributes", "getMessagingActionsForOrder"])
def test_throttled_messaging_reads_are_rechecked_within_minutes(
    amazon, fake, one_read_try, operation
):
    engine, account = amazon
    messaging_step("createConfirmDeliveryDetails", {"de": "Wann liefern wir {{ order_id }}?"})
    message = plan(engine, account, fake=fake)
    fake.faults[operation] = ["throttle"]
    check = messaging_prepare if operation == "GetAttributes" else messaging_preflight
    reason = check(engine, message, message.order)
    assert isinstance(reason, Waiting) and 60 <= reason.recheck_after <= 6 * 60, reason


def test_not_offered_yet_stays_a_daily_recheck(amazon, fake):
    engine, account = amazon
    review_step()
    message = plan(engine, account, fake=fake, delivered_days_ago=2)  # window not open
    reason = review_preflight(engine, message, message.order)
    assert reason.startswith("waiting: Amazon does not offer Request a Review")
    assert getattr(reason, "recheck_after", None) is None  # the dispatcher's daily re-check


# -- credentials problems: the account is marked, the seller is told what to fix ---------


def _revoke(fake, engine, account):
    fake.revoke("good-refresh-token")
    access_token_client.cache.clear()  # the library caches access tokens for 53 minutes


def _forbid(fake, engine, account):
    fake.faults[ACTIONS] = ["forbidden"]


@pytest.mark.parametrize("problem", [_revoke, _forbid], ids=["revoked-token", "403"])
def test_credentials_problem_marks_the_account_and_says_what_to_fix(amazon, fake, problem):
    from core.accounts import ACCOUNT_PROBLEM

    engine, account = amazon
    review_step()
    message = plan(engine, account, fake=fake)
    problem(fake, engine, account)
    reason = review_preflight(engine, message, message.order)
    assert isinstance(reason, Waiting)
    assert reason.startswith(f"waiting: {ACCOUNT_PROBLEM}")
    assert "Accounts page" in reason
    status = fresh_status(account)
    assert status.status == "error" and status.status_message
    if problem is _forbid:  # a read without its role: say which role
        assert "Buyer Solicitation" in status.status_message
    assert fake.solicited[ORDER] == 0


def test_lwa_outage_is_transient_not_a_credentials_problem(amazon):
    """Login with Amazon answering 5xx or 429 says nothing about the seller's token."""
    from sp_api.auth.exceptions import AuthorizationError

    from plugins.amazon.senders import _read_problem

    engine, account = amazon
    for status in (429, 500, 503):
        exc = AuthorizationError("server_error", "try later", status)
        reason = _read_problem(account, exc, ACTIONS)
        assert isinstance(reason, Waiting) and reason.recheck_after, (status, reason)
    assert fresh_status(account).status != "error"
    reason = _read_problem(account, AuthorizationError("invalid_client", "bad", 401), ACTIONS)
    assert "Accounts page" in reason and fresh_status(account).status == "error"


# -- through the dispatcher (needs core.dispatch's handling of throttled / Waiting) ------


def test_a_burst_of_429s_never_fails_the_message_and_it_is_sent_once(amazon, fake):
    engine, account = amazon
    review_step()
    fast(fake)
    plan(engine, account, fake=fake)
    fake.faults[POST] = ["throttle"] * 8
    now = utcnow()
    delays = []
    for n in range(8):
        clock.freeze(now)
        dispatch_due(engine)
        message = Message.get()
        assert message.state == "retry", (n, message.state, message.error)
        delays.append((message.due_at - now).total_seconds())
        now = message.due_at + timedelta(seconds=1)
    clock.freeze(now)
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "sent", (message.state, message.error)
    assert fake.solicited[ORDER] == 1 and fake.count(POST) == 1 and fake.throttled == 8
    # the wait grows (jitter may shave a little off once it reaches its ceiling)
    assert all(later >= earlier * 0.75 for earlier, later in pairwise(delays)), delays
    assert delays[-1] > 2 * delays[0] and delays[-1] >= 600, delays


def test_throttling_without_end_fails_after_throttle_give_up_hours(amazon, fake):
    engine, account = amazon
    review_step()
    fast(fake)
    plan(engine, account, fake=fake)
    fake.faults[POST] = ["throttle"] * 2000
    first = now = utcnow()
    for _ in range(1000):
        clock.freeze(now)
        dispatch_due(engine)
        message = Message.get()
        if message.state != "retry":
            break
        now = message.due_at + timedelta(seconds=1)
    assert message.state == "failed", (message.state, message.error)
    hours = engine.settings.get("dispatch", "throttle_give_up_hours")
    assert now - first >= timedelta(hours=hours) - timedelta(minutes=5), now - first
    assert fake.solicited[ORDER] == 0


def test_a_throttled_read_postpones_minutes_not_a_day(amazon, fake, one_read_try):
    engine, account = amazon
    review_step()
    plan(engine, account, fake=fake)
    fake.faults[ACTIONS] = ["throttle"]
    now = utcnow()
    clock.freeze(now)
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "scheduled" and message.reason.startswith("waiting:")
    assert timedelta(seconds=50) <= message.due_at - now <= timedelta(minutes=10), (
        message.due_at - now
    )
    clock.freeze(message.due_at + timedelta(seconds=1))
    dispatch_due(engine)
    assert Message.get().state == "sent" and fake.solicited[ORDER] == 1


def test_credentials_sealed_with_another_key_mark_the_account(amazon, fake):
    """The encryption key was rotated or lost: the stored credentials cannot be read.
    That is the seller's to fix (restore the key, or enter the credentials again), so
    the account is marked and the message waits, instead of an internal error."""
    from core.accounts import ACCOUNT_PROBLEM

    engine, account = amazon
    review_step()
    message = plan(engine, account, fake=fake)
    account.credentials = b"gAAAAAB-not-sealed-with-this-key"  # clients are cached per value
    account.save()
    message.order.account = account
    reason = review_preflight(engine, message, message.order)
    assert isinstance(reason, Waiting) and reason.startswith(f"waiting: {ACCOUNT_PROBLEM}")
    assert fresh_status(account).status == "error"
