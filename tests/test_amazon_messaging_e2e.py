"""The Messaging sender end to end over HTTP against tests/fake_spapi: the buyer's locale
picks the template language, Amazon's text limits are enforced before the call,
attachments go through the Uploads API (destination, PUT with the returned headers,
upload id referenced), and invoices leave through ``sendInvoice`` with the PDF a
``message_attachments`` hook provides (the EU VAT plugin's path)."""

from __future__ import annotations

import pytest

from core import Attachment, Rendered, hookimpl
from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import Message, Order, SellerAccount
from core.planning import plan_orders
from core.sync import sync_account
from plugins.amazon.senders import messaging_send
from tests.fake_spapi.harness import amazon_settings, connect, messaging_step
from tests.fake_spapi.schema import model_problems

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
ORDER = "302-5555555-1000001"

pytestmark = pytest.mark.usefixtures("fresh_limiter")


class Attach:
    """A plugin contributing a file to every message, as eu_vat does for invoices."""

    def __init__(self, kind="instructions", filename="manual.pdf", data=PDF):
        self.kind, self.filename, self.data = kind, filename, data

    @hookimpl
    def message_attachments(self, engine, order, message, step):
        return [Attachment(self.filename, "application/pdf", self.data, kind=self.kind)]


def run(engine, account, rounds=1):
    result = sync_account(engine, account.id)
    assert not result.errors, result.errors
    plan_orders(engine, result.changed_ids)
    for _ in range(rounds):
        Message.update(due_at=utcnow()).where(Message.state.in_(("scheduled", "retry"))).execute()
        dispatch_due(engine)


def only_message() -> Message:
    return Message.get()


def test_buyer_locale_from_get_attributes_picks_the_template_language(make_engine, fake):
    # A buyer on Amazon.de whose account speaks French: Amazon's getAttributes says fr-FR.
    fake.add_order(ORDER, locale="fr-FR")
    engine = make_engine(plugin_settings=amazon_settings(fake))
    account = connect(engine)
    messaging_step(
        "createConfirmDeliveryDetails",
        {
            "de": "Wann dürfen wir Bestellung {{ order_id }} liefern?",
            "fr": "Quand pouvons-nous livrer la commande {{ order_id }} ?",
        },
    )
    run(engine, account)
    message = only_message()
    assert message.state == "sent", (message.reason, message.error)
    assert message.language == "fr"
    assert Order.get(Order.order_id == ORDER).buyer_locale == "fr-FR"
    [(kind, body)] = fake.messages[ORDER]
    assert kind == "confirmDeliveryDetails"
    assert body["text"] == f"Quand pouvons-nous livrer la commande {ORDER} ?"
    # ask first: the locale, then the allowed actions, then the one POST
    ops = [c.operation for c in fake.calls if c.order_id == ORDER]
    assert ops == ["GetAttributes", "getMessagingActionsForOrder", "createConfirmDeliveryDetails"]
    [post] = fake.calls_of("createConfirmDeliveryDetails")
    assert post.query["marketplaceIds"] == ["A1PA6795UKMFR9"]
    path = "/messaging/v1/orders/{amazonOrderId}/messages/confirmDeliveryDetails"
    assert model_problems(post.body, "messaging.json", path, "POST") == []


def test_text_over_amazons_limit_fails_before_any_call(make_engine, fake):
    fake.add_order(ORDER)
    engine = make_engine(plugin_settings=amazon_settings(fake))
    account = connect(engine)
    long_text = "Ihr Zugangsschlüssel für {{ order_id }}: " + "ABCD-" * 90  # > 400, < 2000
    messaging_step("createDigitalAccessKey", {"de": long_text})
    run(engine, account)
    message = only_message()
    # The compliance linter knows Amazon's per-type limit and stops it at compose time.
    assert (message.state, message.reason) == ("skipped", "skipped: compliance FU-LENGTH")
    assert fake.count("createDigitalAccessKey") == 0  # never sent for Amazon to refuse
    # The sender checks the limit itself too (a step composed without the linter).
    message = Message.get()
    message.step.message_type = "createDigitalAccessKey"
    order = Order.get(Order.order_id == ORDER)
    result = messaging_send(engine, message, order, Rendered("", "x" * 401, language="de"))
    assert result.status == "failed" and "createDigitalAccessKey allows 400" in result.detail
    result = messaging_send(engine, message, order, Rendered("", "x" * 400, language="de"))
    assert result.status == "sent"
    assert fake.count("createDigitalAccessKey") == 1  # only the one within the limit


def test_the_fake_would_have_refused_it_too(make_engine, fake):
    """The limit the plugin enforces is the one Amazon (and the fake) answers 400 for."""
    import httpx

    from tests.fake_spapi.auth import access_token_for

    fake.add_order(ORDER)
    answer = httpx.post(
        f"{fake.url}/messaging/v1/orders/{ORDER}/messages/digitalAccessKey",
        params={"marketplaceIds": "A1PA6795UKMFR9"},
        json={"text": "x" * 401},
        headers={"x-amz-access-token": access_token_for("good-refresh-token")},
    )
    assert answer.status_code == 400 and "400 characters" in answer.text
    # the fake's check against Amazon's model saw it too (maxLength 400)
    assert any("digitalAccessKey" in v and "body text" in v for v in fake.violations)
    fake.violations.clear()  # this test's own doing


def test_attachment_goes_through_uploads_and_is_referenced(make_engine, fake):
    fake.add_order(ORDER)
    engine = make_engine(
        plugin_settings=amazon_settings(fake), extra_plugins=[("attach", Attach())]
    )
    account = connect(engine)
    messaging_step(
        "confirmCustomizationDetails",
        {"de": "Bitte prüfen Sie die Gravur für {{ order_id }} (Vorschau anbei)."},
    )
    run(engine, account)
    message = only_message()
    assert message.state == "sent", (message.reason, message.error)
    assert "1 attachment" in message.reason
    [create] = fake.calls_of("createUploadDestinationForResource")
    assert create.path.endswith(f"messaging/v1/orders/{ORDER}/messages/confirmCustomizationDetails")
    [(destination_id, upload)] = fake.uploads.items()
    assert upload["uploaded"] and upload["data"] == PDF  # the PUT carried the bytes
    [(kind, body)] = fake.messages[ORDER]
    assert body["attachments"] == [
        {"uploadDestinationId": destination_id, "fileName": "manual.pdf"}
    ]


def test_attachments_are_left_out_of_types_that_take_none_and_say_so(make_engine, fake):
    fake.add_order(ORDER)
    engine = make_engine(
        plugin_settings=amazon_settings(fake), extra_plugins=[("attach", Attach())]
    )
    account = connect(engine)
    messaging_step(
        "createUnexpectedProblem", {"de": "Ihre Bestellung {{ order_id }} verzögert sich."}
    )
    run(engine, account)
    message = only_message()
    assert message.state == "sent"
    assert "left out: createUnexpectedProblem takes none" in message.reason
    assert fake.count("createUploadDestinationForResource") == 0
    assert "attachments" not in fake.messages[ORDER][0][1]


@pytest.mark.parametrize("message_type", ["sendInvoice", "invoice"])
def test_send_invoice_with_the_pdf_from_message_attachments(make_engine, fake, message_type):
    # eu_vat's step type is "invoice" (or "sendInvoice"); its hook returns kind "invoice".
    fake.add_order(ORDER)
    attach = Attach(kind="invoice", filename=f"{ORDER}.pdf")
    engine = make_engine(plugin_settings=amazon_settings(fake), extra_plugins=[("vat", attach)])
    account = connect(engine)
    messaging_step(message_type, {"de": "Anbei die Rechnung zu Bestellung {{ order_id }}."})
    run(engine, account)
    message = only_message()
    assert message.state == "sent", (message.reason, message.error)
    [(kind, body)] = fake.messages[ORDER]
    assert kind == "invoice" and "text" not in body  # sendInvoice has no text in the model
    [upload] = fake.uploads.values()
    assert upload["resource"] == f"messaging/v1/orders/{ORDER}/messages/invoice"
    assert upload["data"] == PDF
    assert body["attachments"] == [
        {"uploadDestinationId": upload["id"], "fileName": f"{ORDER}.pdf"}
    ]
    # what the plugin sent is what Amazon's model describes
    path = "/messaging/v1/orders/{amazonOrderId}/messages/invoice"
    assert model_problems(body, "messaging.json", path, "POST") == []


def test_invoice_through_the_real_eu_vat_plugin(make_engine, fake, tmp_path):
    """The EU VAT plugin (folder source) + amazon_messaging: the seller's PDF reaches
    sendInvoice through the Uploads API."""
    folder = tmp_path / "invoices"
    folder.mkdir()
    (folder / f"{ORDER}.pdf").write_bytes(PDF)
    fake.add_order(ORDER)
    engine = make_engine(
        plugins={"enabled": ["amazon", "eu_vat"], "entrypoints": False},
        plugin_settings={
            **amazon_settings(fake),
            "eu_vat": {"source_kind": "folder", "source": str(folder)},
        },
    )
    account = connect(engine)
    messaging_step("invoice", {"de": "Anbei die Rechnung zu Bestellung {{ order_id }}."})
    run(engine, account)
    message = only_message()
    assert message.state == "sent", (message.reason, message.error)
    [(kind, body)] = fake.messages[ORDER]
    assert kind == "invoice" and len(body["attachments"]) == 1
    assert fake.uploads[body["attachments"][0]["uploadDestinationId"]]["data"] == PDF


def test_invoice_without_a_pdf_fails_clearly_and_sends_nothing(make_engine, fake):
    fake.add_order(ORDER)
    engine = make_engine(plugin_settings=amazon_settings(fake))
    account = connect(engine)
    messaging_step("sendInvoice", {"de": "Rechnung zu {{ order_id }}."})
    run(engine, account)
    message = only_message()
    assert message.state == "failed"
    assert "sendInvoice needs an attachment (PDF)" in message.error
    assert fake.count("sendInvoice") == 0 and fake.count("createUploadDestinationForResource") == 0


def test_failed_upload_sends_nothing_and_retries_once_ok(make_engine, fake):
    fake.add_order(ORDER)
    fake.faults["createUploadDestinationForResource"] = ["500"]
    engine = make_engine(
        plugin_settings=amazon_settings(fake),
        extra_plugins=[("vat", Attach(kind="invoice", filename="invoice.pdf"))],
    )
    account = connect(engine)
    messaging_step("sendInvoice", {"de": "Rechnung zu {{ order_id }}."})
    run(engine, account)
    message = only_message()
    assert message.state == "retry"
    assert "attachment upload failed, message not sent" in message.error
    assert fake.count("sendInvoice") == 0
    Message.update(due_at=utcnow()).execute()
    dispatch_due(engine)
    assert only_message().state == "sent"
    assert len(fake.messages[ORDER]) == 1


def test_upload_put_with_wrong_headers_is_refused(fake):
    """The fake's S3 stand-in checks the returned headers and the MD5, as S3 does."""
    import base64
    import hashlib

    import httpx

    from tests.fake_spapi.auth import access_token_for

    md5 = base64.b64encode(hashlib.md5(PDF).digest()).decode()
    payload = httpx.post(
        f"{fake.url}/uploads/2020-11-01/uploadDestinations/messaging/v1/orders/{ORDER}/messages/invoice",
        params={
            "marketplaceIds": "A1PA6795UKMFR9",
            "contentMD5": md5,
            "contentType": "application/pdf",
        },
        headers={"x-amz-access-token": access_token_for("good-refresh-token")},
    ).json()["payload"]
    assert httpx.put(payload["url"], content=PDF).status_code == 403  # headers missing
    assert (
        httpx.put(payload["url"], content=PDF + b"x", headers=payload["headers"]).status_code == 400
    )
    assert httpx.put(payload["url"], content=PDF, headers=payload["headers"]).status_code == 200


def test_500_on_a_message_post_is_in_doubt_and_never_resent(make_engine, fake):
    fake.add_order(ORDER)
    fake.faults["createConfirmDeliveryDetails"] = ["500_html"]  # a load balancer's page
    engine = make_engine(plugin_settings=amazon_settings(fake))
    account = connect(engine)
    messaging_step(
        "createConfirmDeliveryDetails", {"de": "Wann dürfen wir {{ order_id }} liefern?"}
    )
    run(engine, account, rounds=3)
    message = only_message()
    # not "sent" (the library alone would read the HTML 500 as an empty success), and not
    # retried: Amazon may have delivered it and the Messaging API cannot say.
    assert message.state == "in_doubt"
    assert "500" in message.error
    assert fake.count("createConfirmDeliveryDetails") == 1


def test_timeout_after_the_post_is_in_doubt_and_never_resent(make_engine, fake):
    fake.add_order(ORDER)
    fake.faults["createConfirmDeliveryDetails"] = ["timeout_after_commit"]
    engine = make_engine(plugin_settings=amazon_settings(fake))  # client timeout: 1 s
    account = connect(engine)
    messaging_step(
        "createConfirmDeliveryDetails", {"de": "Wann dürfen wir {{ order_id }} liefern?"}
    )
    run(engine, account, rounds=2)
    message = only_message()
    assert message.state == "in_doubt" and "no answer after the request was sent" in message.error
    assert len(fake.messages[ORDER]) == 1  # Amazon did deliver it; nothing sent twice
    assert fake.count("createConfirmDeliveryDetails") == 1


def test_2xx_with_a_garbled_body_on_a_post_counts_as_sent(make_engine, fake):
    fake.add_order(ORDER)
    fake.faults["createUnexpectedProblem"] = ["malformed"]
    engine = make_engine(plugin_settings=amazon_settings(fake))
    account = connect(engine)
    messaging_step(
        "createUnexpectedProblem", {"de": "Ihre Bestellung {{ order_id }} verzögert sich."}
    )
    run(engine, account, rounds=2)
    assert only_message().state == "sent"
    assert len(fake.messages[ORDER]) == 1  # Amazon acted on it: never a second one


def test_not_offered_waits_and_malformed_actions_answer_is_a_clear_wait(make_engine, fake):
    fake.add_order(ORDER, messaging=("unexpectedProblem",))  # Amazon offers only that now
    other = "302-5555555-1000002"
    fake.add_order(other)
    fake.faults[f"getMessagingActionsForOrder:{other}"] = ["malformed"]
    engine = make_engine(plugin_settings=amazon_settings(fake))
    account = connect(engine)
    messaging_step(
        "createConfirmDeliveryDetails", {"de": "Wann dürfen wir {{ order_id }} liefern?"}
    )
    run(engine, account)
    states = {m.order.order_id: (m.state, m.reason) for m in Message.select()}
    assert states[ORDER][0] == "scheduled"
    assert "does not allow createConfirmDeliveryDetails" in states[ORDER][1]
    assert states[other][0] == "scheduled" and "not JSON" in states[other][1]
    assert fake.count("createConfirmDeliveryDetails") == 0
    # the next round (the fault is gone) sends the one Amazon allows, once
    Message.update(due_at=utcnow()).execute()
    dispatch_due(engine)
    assert len(fake.messages.get(other, [])) == 1 and ORDER not in fake.messages


def test_revoked_authorization_marks_the_account_and_sends_nothing(make_engine, fake):
    from sp_api.auth import access_token_client

    fake.add_order(ORDER)
    fake.refresh_tokens.add("tok-msg-revoked")
    engine = make_engine(plugin_settings=amazon_settings(fake))
    creds = {"refresh_token": "tok-msg-revoked", "lwa_app_id": "a", "lwa_client_secret": "b"}
    account = connect(engine, creds=creds)
    messaging_step(
        "createConfirmDeliveryDetails", {"de": "Wann dürfen wir {{ order_id }} liefern?"}
    )
    result = sync_account(engine, account.id)
    plan_orders(engine, result.changed_ids)
    fake.revoke("tok-msg-revoked")  # the seller removed the app's authorization
    access_token_client.cache.clear()  # the library caches access tokens for 53 minutes
    Message.update(due_at=utcnow()).execute()
    dispatch_due(engine)
    message = only_message()
    assert message.state == "scheduled" and "invalid_grant" in message.reason
    account = SellerAccount.get_by_id(account.id)
    assert account.status == "error" and "authorize the app again" in account.status_message
    assert fake.count("createConfirmDeliveryDetails") == 0
