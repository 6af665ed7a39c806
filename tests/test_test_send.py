"""Test send to the seller's own address through the email plugin's SMTP path.

Against the real aiosmtpd server of ``tests.mailservers`` (STARTTLS + AUTH on 127.0.0.1):
the seller's test address receives the ``[TEST]`` mail with the rendered text and the
attachment, a relay address is refused, nothing is recorded as a message, and the web
route works end to end through the Flask client.
"""

from __future__ import annotations

import pytest

from core.attachments import Upload, store
from core.contracts import Attachment, Rendered
from core.models import AuditLog, Campaign, Message, SellerAccount, Step, Template
from core.store import store_orders
from core.templates import save_version
from tests.conftest import order_data
from tests.mailservers import SMTP_PASSWORD, SMTP_USER
from tests.support.mail import parse_mail, smtp_settings
from tests.support.web import csrf_token, login, make_admin
from web import create_app

FROM = "shop@example.com"
ME = "me@shop.example"
RELAY = "a1b2c3d4e5@marketplace.amazon.de"
PASSWORD_ENV = "FOLLOWUP_TEST_SEND_SMTP_PASSWORD"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
MANUAL_BODY = (
    "Hello,\n\nthe manual for your {{ product_title }} (order {{ order_id }}) is attached "
    "to this message. It explains the set-up step by step.\n\n{{ contact_instruction }}"
)


def _email_settings(smtp, **overrides) -> dict:
    # a generous timeout: the test machine is shared and often busy
    values = {"from_address": FROM, **smtp_settings(smtp, PASSWORD_ENV, timeout=30)}
    values.update(overrides)
    return values


@pytest.fixture
def engine(make_engine, smtp, monkeypatch):
    """The engine of every test here (and of the web ``app``): email set up for aiosmtpd."""
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    return make_engine(
        plugins={"enabled": ["amazon", "demo", "email"], "entrypoints": False},
        plugin_settings={"email": _email_settings(smtp)},
    )


def _account(test_address=ME, marketplaces=("US",)) -> SellerAccount:
    return SellerAccount.create(
        name="Nordlicht", source="demo", marketplaces=list(marketplaces), test_address=test_address
    )


def _parse(received):
    return parse_mail(received.data)


def _rendered(**kw) -> Rendered:
    values = dict(
        subject="Set-up instructions for your order 111-2222222-3333333",
        text="Hello,\n\nthe manual for order 111-2222222-3333333 is attached.",
        html="<p>Hello,</p><p>the manual for order 111-2222222-3333333 is attached.</p>",
        language="en",
        attachments=(Attachment("manual.pdf", "application/pdf", PDF),),
    )
    values.update(kw)
    return Rendered(**values)


# -- the sender's send_test -----------------------------------------------------------


def test_send_test_delivers_a_marked_copy_to_the_sellers_own_address(engine, smtp):
    account = _account()
    result = engine.sender("email").send_test(engine, account, _rendered(), ME)
    assert result.status == "sent", result.detail
    assert ME in result.detail and "127.0.0.1" in result.detail
    (got,) = smtp.received
    assert got.rcpt_tos == [ME] and got.mail_from == FROM and got.login == SMTP_USER
    mail = _parse(got)
    assert mail["Subject"] == "[TEST] Set-up instructions for your order 111-2222222-3333333"
    assert mail["X-Followup-Test"] == "1"
    assert mail["To"] == ME and mail["From"] == FROM
    # a long id is folded onto its own line; unfolded it is the same header value
    assert mail["Message-ID"].strip() == result.external_id
    assert "the manual for order 111-2222222-3333333" in mail.get_body(("plain",)).get_content()
    assert "<p>Hello,</p>" in mail.get_body(("html",)).get_content()
    (attached,) = list(mail.iter_attachments())
    assert attached.get_filename() == "manual.pdf" and attached.get_content() == PDF
    assert Message.select().count() == 0  # a test is never a message to a buyer


def test_a_relay_address_as_test_address_is_refused_and_nothing_leaves(engine, smtp):
    account = _account(test_address=RELAY)
    result = engine.sender("email").send_test(engine, account, _rendered(), RELAY)
    assert result.status == "skipped"
    assert "Amazon buyer relay address" in result.detail
    assert smtp.received == []


def test_only_the_accounts_own_test_address_receives_tests(engine, smtp):
    account = _account()
    result = engine.sender("email").send_test(engine, account, _rendered(), "other@example.org")
    assert result.status == "skipped" and f"own test address ({ME})" in result.detail
    no_address = _account(test_address="")
    result = engine.sender("email").send_test(engine, no_address, _rendered(), "")
    assert result.status == "skipped" and "test address" in result.detail
    assert smtp.received == []


def test_an_important_tag_never_reaches_a_test_subject(engine, smtp):
    result = engine.sender("email").send_test(
        engine, _account(), _rendered(subject="[Important] Your order"), ME
    )
    assert result.status == "sent"
    assert _parse(smtp.received[0])["Subject"] == "[TEST] Your order"


def test_unconfigured_or_switched_off_channel_says_why(engine, smtp):
    account = _account(marketplaces=("DE",))
    engine.set_plugin_setting("email", "enabled", False, "DE")
    result = engine.sender("email").send_test(engine, account, _rendered(), ME)
    assert result.status == "skipped" and "switched off for DE" in result.detail
    engine.set_plugin_setting("email", "enabled", True, "DE")
    engine.set_plugin_setting("email", "smtp_host", "", "DE")
    result = engine.sender("email").send_test(engine, account, _rendered(), ME)
    assert result.status == "skipped" and "set smtp_host" in result.detail
    assert smtp.received == []


def test_a_wrong_password_fails_the_test_with_the_reason(engine, smtp, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    result = engine.sender("email").send_test(engine, _account(), _rendered(), ME)
    assert result.status == "failed" and "SMTP login refused (535)" in result.detail
    assert "wrong" not in result.detail
    assert smtp.received == []


# -- the web route, end to end ---------------------------------------------------------


def _order(engine, account, marketplace="US"):
    data = order_data(marketplace, buyer_email=RELAY)
    store_orders(account, [data], "test", set(engine.marketplaces))
    return data


def _manual_template(channel="email") -> Template:
    template = Template.create(name="Manual", channel=channel, message_type="instructions")
    subject = "Set-up instructions for your order {{ order_id }}" if channel == "email" else ""
    save_version(template, {"en": {"subject": subject, "body": MANUAL_BODY}})
    return template


def _with_stored_manual(template, account):
    campaign = Campaign.create(name="Manuals", status="test", account=account)
    step = Step.create(campaign=campaign, trigger="delivered", sender="email", template=template)
    store(Upload("Manual", "instructions", "lamp-manual.pdf", PDF, step_id=step.id))


def _test_send(client, template, account):
    token = csrf_token(client, f"/templates/{template.id}/versions")
    data = {"csrf_token": token, "account": account.id, "language": "en"}
    return client.post(f"/templates/{template.id}/test-send", data=data, follow_redirects=True)


def test_web_test_send_emails_the_rendered_version_to_the_test_address(signed_in, engine, smtp):
    account = _account()
    data = _order(engine, account)
    template = _manual_template()
    _with_stored_manual(template, account)
    page = _test_send(signed_in, template, account).get_data(as_text=True)
    assert f"Test of version 1 (en) emailed to {ME}" in page
    assert f"rendered on order {data.order_id} (US) (1 attachment(s))" in page
    assert "Nothing was sent to a buyer" in page
    (got,) = smtp.received
    assert got.rcpt_tos == [ME]
    mail = _parse(got)
    assert mail["Subject"] == f"[TEST] Set-up instructions for your order {data.order_id}"
    text = mail.get_body(("plain",)).get_content()
    assert f"the manual for your Test product (order {data.order_id})" in text
    assert [a.get_filename() for a in mail.iter_attachments()] == ["lamp-manual.pdf"]
    assert Message.select().count() == 0
    entry = AuditLog.get(AuditLog.action == "template_test_send")
    assert f"emailed to {ME}" in entry.detail and "lamp-manual.pdf" in entry.detail


def test_web_test_send_to_a_relay_address_falls_back_to_the_dry_run(signed_in, engine, smtp):
    account = _account(test_address=RELAY)
    _order(engine, account)
    template = _manual_template()
    _with_stored_manual(template, account)
    page = _test_send(signed_in, template, account).get_data(as_text=True)
    assert "Nothing was emailed: refused:" in page and "Amazon buyer relay address" in page
    assert "dry run: recorded, not sent" in page
    assert smtp.received == [] and Message.select().count() == 0


def test_web_test_send_of_a_messaging_template_is_an_email_preview(signed_in, engine, smtp):
    account = _account()
    data = _order(engine, account)
    template = _manual_template(channel="messaging")
    _with_stored_manual(template, account)
    page = _test_send(signed_in, template, account).get_data(as_text=True)
    assert "emailed as a preview of the text only" in page
    (got,) = smtp.received
    assert _parse(got)["Subject"] == "[TEST] Preview of Manual (Amazon Messaging API)"
    assert data.order_id in _parse(got).get_body(("plain",)).get_content()
    versions = signed_in.get(f"/templates/{template.id}/versions").get_data(as_text=True)
    assert "emailed as a preview of its text" in versions


def test_web_test_send_says_why_when_the_smtp_login_fails(signed_in, engine, smtp, monkeypatch):
    account = _account()
    _order(engine, account)
    template = _manual_template()
    _with_stored_manual(template, account)
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    page = _test_send(signed_in, template, account).get_data(as_text=True)
    assert "Nothing was emailed: SMTP login refused (535)" in page
    assert 'class="flash flash-error"' in page
    assert smtp.received == []


def test_without_the_email_plugin_the_page_says_to_enable_it(make_engine, smtp_server):
    """An engine without the email plugin: the dry run, and the reason."""
    plain = make_engine()
    app = create_app(engine=plain)
    app.config["TESTING"] = True
    client = app.test_client()
    make_admin()
    login(client)
    before = len(smtp_server.received)
    account = _account()
    _order(plain, account)
    template = _manual_template()
    _with_stored_manual(template, account)
    page = _test_send(client, template, account).get_data(as_text=True)
    assert "dry run: recorded, not sent" in page
    assert "Nothing was emailed: enable the email plugin" in page
    assert len(smtp_server.received) == before


# -- campaigns in "test" status ----------------------------------------------------------


def _test_campaign_message(engine, account):
    """Plan and dispatch one message of a test-status campaign on the email channel."""
    from core.dispatch import dispatch_due
    from core.planning import plan_all

    data = _order(engine, account)
    campaign = Campaign.create(name="Manual (test)", status="test", account=account)
    Step.create(
        campaign=campaign,
        position=1,
        name="Manual",
        trigger="ordered",
        delay_days=0,
        sender="email",
        template=_manual_template(),
        message_type="instructions",
        window_start_hour=0,
        window_end_hour=24,
    )
    plan_all(engine)
    dispatch_due(engine)
    return data, Message.get()


def test_a_test_campaign_emails_each_message_to_the_sellers_own_address(engine, smtp):
    """A test campaign sends only through the dry run and to the seller's own
    test address; the buyer's relay address never receives anything."""
    data, message = _test_campaign_message(engine, _account())
    assert message.state == "sent" and message.dry_run and message.sender == "dry_run"
    assert f"test copy emailed to {ME}" in message.reason
    (got,) = smtp.received
    assert got.rcpt_tos == [ME]
    mail = _parse(got)
    assert mail["Subject"] == f"[TEST] Set-up instructions for your order {data.order_id}"
    assert f"(order {data.order_id})" in mail.get_body(("plain",)).get_content()


def test_a_test_campaign_without_a_test_address_says_so_and_still_records(engine, smtp):
    _, message = _test_campaign_message(engine, _account(test_address=""))
    assert message.state == "sent" and message.dry_run
    assert "no test copy: set a test address on the account" in message.reason
    assert smtp.received == []
