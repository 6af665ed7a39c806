"""The eu_vat plugin: invoice sources and checks, the retryable missing-invoice state,
per-marketplace settings, against a real ``http.server`` on 127.0.0.1, real folders, the
real engine and dispatcher, and the email plugin's real SMTP test server (aiosmtpd)."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from core import RetryLater, SettingRefused, clock, hookimpl
from core.campaigns import dry_run
from core.config import ConfigError
from core.contracts import FAILED, RETRY, SCHEDULED, SENT, SKIPPED
from core.dispatch import dispatch_due
from core.models import (
    Attempt,
    Campaign,
    Message,
    Order,
    Step,
    Template,
    TemplateVariant,
    TemplateVersion,
)
from core.planning import plan_orders
from core.store import store_orders
from plugins.eu_vat import is_invoice_step
from plugins.eu_vat.config import InvoiceSettings, settings_for
from plugins.eu_vat.sources import InvoiceMissing, fetch_url, get_invoice, read_folder
from tests.conftest import order_data
from tests.mailservers import SMTP_PASSWORD
from tests.support.mail import parse_mail, smtp_settings

MB = 1024 * 1024
PASSWORD_ENV = "FOLLOWUP_TEST_EU_VAT_SMTP_PASSWORD"
FROM = "shop@example.com"


def pdf_for(order_id: str) -> bytes:
    """A small, real PDF whose content names the order (to recognise it on arrival)."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
        + f"% invoice {order_id}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


# -- a real HTTP invoice server ------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        app = self.server.app
        path = urlsplit(self.path).path
        app.requests.append(self.path)
        status, ctype, body, with_length, delay = app.routes.get(
            path, (404, "text/html", b"<h1>Not found</h1>", True, 0)
        )
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if with_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (size limit reached): expected

    def log_message(self, *args):
        pass


class InvoiceServer:
    """``http.server`` on 127.0.0.1; ``routes`` maps a path to what it answers."""

    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.requests: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pdf(self, path: str, data: bytes, *, with_length: bool = True) -> None:
        self.routes[path] = (200, "application/pdf", data, with_length, 0)

    def page(self, path: str, html: bytes) -> None:
        self.routes[path] = (200, "text/html; charset=utf-8", html, True, 0)

    def slow(self, path: str, seconds: float) -> None:
        self.routes[path] = (200, "application/pdf", b"%PDF-1.4 late", True, seconds)


@pytest.fixture(scope="module")
def http_server():
    server = InvoiceServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def invoices(http_server):
    http_server.routes.clear()
    http_server.requests.clear()
    return http_server


@pytest.fixture
def vat_engine(make_engine, monkeypatch):
    """An engine with eu_vat (and, given an SMTP server, the email channel)."""
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)

    def make(smtp=None, **sections):
        enabled = ["amazon", "demo", "eu_vat"] + (["email"] if smtp else [])
        sections.setdefault("plugins", {})["enabled"] = enabled
        if smtp is not None:
            sections["plugin_settings"] = {
                "email": dict(from_address=FROM, **smtp_settings(smtp, PASSWORD_ENV))
            }
        return make_engine(**sections)

    return make


def configure(engine, marketplace: str, **values) -> None:
    for key, value in values.items():
        engine.set_plugin_setting("eu_vat", key, value, marketplace)


def new_orders(engine, account, *marketplaces, **fields) -> dict[str, Order]:
    """One realistic order per marketplace, each with its own buyer relay address."""
    out = {}
    for mkt in marketplaces:
        values = dict(fields)
        values.setdefault("buyer_email", f"{mkt.lower()}-buyer@marketplace.amazon.de")
        data = order_data(mkt, **values)
        [pk] = store_orders(account, [data], "test", set(engine.marketplaces)).changed_ids
        out[mkt] = Order.get_by_id(pk)
    return out


VARIANTS = {
    "en": (
        "Your invoice",
        "Hello,\n\nplease find attached the invoice for your order {{ order_id }}.\n\n"
        "Best regards,\n{{ seller_name }}",
    ),
    "de": (
        "Ihre Rechnung",
        "Hallo,\n\nanbei erhalten Sie die Rechnung zu Ihrer Bestellung {{ order_id }}.\n\n"
        "Mit freundlichen Grüßen\n{{ seller_name }}",
    ),
    "ja": (
        "請求書",
        "ご注文（注文番号 {{ order_id }}）の請求書を添付いたします。\n\n{{ seller_name }}",
    ),
}


def invoice_step(*, sender="email", message_type="invoice", status="active", variants=None):
    template = Template.create(name="Invoice", channel="email", message_type="invoice")
    version = TemplateVersion.create(template=template, number=1)
    for language, (subject, body) in (variants or VARIANTS).items():
        TemplateVariant.create(version=version, language=language, subject=subject, body=body)
    campaign = Campaign.create(name="Invoices", status=status)
    return Step.create(
        campaign=campaign,
        position=1,
        name="Invoice",
        trigger="delivered",
        sender=sender,
        message_type=message_type,
        template=template,
        window_start_hour=0,
        window_end_hour=24,
    )


def message_of(order: Order) -> Message:
    return Message.get(Message.order == order.id)


def mail_to(smtp, address: str):
    found = [parse_mail(r.data) for r in smtp.received if address in r.rcpt_tos]
    assert len(found) == 1, f"expected one mail to {address}, got {len(found)}"
    return found[0]


def attachments_of(mail) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in mail.iter_attachments()}


def cfg(source: str, kind: str = "url", *, max_mb: int = 10, timeout: float = 5) -> InvoiceSettings:
    return InvoiceSettings(
        marketplace="DE",
        source_kind=kind,
        source=source,
        order_states="shipped_delivered",
        company_name="",
        company_address="",
        vat_id="",
        max_bytes=max_mb * MB,
        timeout=timeout,
        recheck_seconds=3600,
    )


ORDER_ID = "302-1234567-7654321"


# -- settings page and the marketplaces it serves ------------------------------------------


def test_settings_page_has_every_setting_with_defaults(vat_engine):
    engine = vat_engine()
    page = engine.settings_pages["eu_vat"]
    keys = {f.key for f in page.fields}
    assert {
        "enabled",
        "source_kind",
        "source",
        "order_states",
        "company_name",
        "company_address",
        "vat_id",
        "max_size_mb",
    } <= keys
    assert engine.plugin_setting("eu_vat", "max_size_mb", "DE") == 10
    assert engine.plugin_setting("eu_vat", "order_states", "DE") == "shipped_delivered"
    configure(engine, "DE", vat_id="DE123456789", max_size_mb=5)
    configure(engine, "FR", vat_id="FR12345678901")
    de, fr, it = (settings_for(engine, m) for m in ("DE", "FR", "IT"))
    assert (de.vat_id, de.max_bytes) == ("DE123456789", 5 * MB)
    assert (fr.vat_id, fr.max_bytes) == ("FR12345678901", 10 * MB)
    assert it.vat_id == ""


def test_refuses_to_be_enabled_outside_the_eu_and_uk(vat_engine):
    engine = vat_engine()
    with pytest.raises(SettingRefused, match="EU and UK marketplaces .*US is not one of them"):
        engine.set_plugin_setting("eu_vat", "enabled", True, "US")
    with pytest.raises(SettingRefused, match="JP is not one of them"):
        engine.set_plugin_setting("eu_vat", "enabled", "on", "JP")
    engine.set_plugin_setting("eu_vat", "enabled", False, "US")  # turning it off is fine
    configure(engine, "UK", enabled=True)
    assert {m: engine.plugin_enabled("eu_vat", m) for m in ("US", "JP", "UK", "DE")} == {
        "US": False,
        "JP": False,
        "UK": True,
        "DE": True,
    }
    # Other plugins are not affected by eu_vat's refusal.
    assert engine.plugin_enabled("amazon", "US")


def test_config_restriction_to_a_non_eu_marketplace_fails_at_start(vat_engine):
    with pytest.raises(ConfigError, match=r"\[plugins.marketplaces\] eu_vat: .*JP is not"):
        vat_engine(**{"plugins.marketplaces": {"eu_vat": ["DE", "JP"]}})


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("source", "ftp://files.example/{order_id}.pdf", "must start with https://"),
        ("source", "https://invoices.example/latest.pdf", "must contain {order_id}"),
        ("source", "invoices/{marketplace}", "absolute path"),
        ("source_kind", "s3", "one of url, folder"),
        ("order_states", "paid", "one of shipped_delivered, shipped, delivered"),
        ("max_size_mb", 25, "between 1 and 10"),
        ("max_size_mb", "ten", "whole number"),
    ],
)
def test_bad_values_are_refused_with_the_reason(vat_engine, key, value, expected):
    engine = vat_engine()
    with pytest.raises(SettingRefused, match=re.escape(expected)):
        engine.set_plugin_setting("eu_vat", key, value, "DE")
    assert engine.plugin_setting("eu_vat", key, "DE") != value


# -- invoice_url and template_context ------------------------------------------------------


def test_invoice_link_and_company_placeholders_per_marketplace(vat_engine, account):
    engine = vat_engine()
    configure(
        engine,
        "DE",
        source="https://invoices.example/{marketplace}/{order_id}.pdf?token=s3cret",
        company_name="Muster GmbH",
        company_address="Hauptstr. 1, 10115 Berlin",
        vat_id="DE123456789",
    )
    configure(engine, "UK", source_kind="folder", source="/srv/invoices/{marketplace}")
    configure(engine, "FR", source="http://intranet.local/{order_id}.pdf")
    orders = new_orders(engine, account, "DE", "UK", "FR", "US", "JP")
    de = orders["DE"]
    link = f"https://invoices.example/DE/{de.order_id}.pdf?token=s3cret"
    assert engine.invoice_url(de) == link
    context = engine.template_context(de, None)
    assert context["invoice_link"] == link
    assert context["company_name"] == "Muster GmbH"
    assert context["company_address"] == "Hauptstr. 1, 10115 Berlin"
    assert context["vat_id"] == "DE123456789"
    # A folder has no address for the buyer, and a plain-http link is not a secure link
    # (Amazon allows only secure links needed to complete the order).
    for mkt in ("UK", "FR"):
        assert engine.invoice_url(orders[mkt]) is None
        assert engine.template_context(orders[mkt], None)["invoice_link"] == ""
    for mkt in ("US", "JP"):
        assert engine.invoice_url(orders[mkt]) is None
        assert not {"invoice_link", "company_name", "vat_id"} & set(
            engine.template_context(orders[mkt], None)
        )
    # The editor's palette (an unsaved stand-in order) shows examples for unset values.
    stand_in = Order(order_id=ORDER_ID, marketplace="FR", fulfillment="FBA", status="Shipped")
    palette = engine.template_context(stand_in, None)
    assert palette["vat_id"] == "DE123456789" and palette["company_name"]
    stand_in.marketplace = "DE"
    assert engine.template_context(stand_in, None)["company_name"] == "Muster GmbH"


# -- the URL source against a real http.server -----------------------------------------------


def test_fetches_a_pdf(invoices):
    invoices.pdf(f"/DE/{ORDER_ID}.pdf", pdf_for(ORDER_ID))
    got = fetch_url(cfg(invoices.base + "/{marketplace}/{order_id}.pdf"), ORDER_ID)
    assert got.data == pdf_for(ORDER_ID) and got.filename == f"invoice-{ORDER_ID}.pdf"
    assert invoices.requests == [f"/DE/{ORDER_ID}.pdf"]


def test_404_is_reported_as_not_found_with_the_address(invoices):
    with pytest.raises(InvoiceMissing) as caught:
        fetch_url(cfg(invoices.base + "/{marketplace}/{order_id}.pdf"), ORDER_ID)
    assert caught.value.reason == (
        f"waiting: invoice for {ORDER_ID} not found at {invoices.base}/DE/{ORDER_ID}.pdf (HTTP 404)"
    )


def test_an_html_page_is_not_a_pdf(invoices):
    invoices.page(f"/DE/{ORDER_ID}.pdf", b"<!DOCTYPE html><p>Please log in</p>")
    with pytest.raises(
        InvoiceMissing, match=r"is not a PDF \(starts with '<!DOCTYPE html><', text/html\)$"
    ):
        fetch_url(cfg(invoices.base + "/DE/{order_id}.pdf"), ORDER_ID)


@pytest.mark.parametrize("with_length", [True, False], ids=["declared", "streamed"])
def test_an_oversize_file_is_refused(invoices, with_length):
    big = b"%PDF-1.4\n" + b"0" * (11 * MB)
    invoices.pdf(f"/DE/{ORDER_ID}.pdf", big, with_length=with_length)
    with pytest.raises(InvoiceMissing, match=r"over the 10 MB limit \(Amazon accepts"):
        fetch_url(cfg(invoices.base + "/DE/{order_id}.pdf"), ORDER_ID)


def test_the_seller_limit_is_lower_and_ten_mb_exactly_passes(invoices):
    exact = b"%PDF-1.4\n" + b"0" * (10 * MB - 9)
    invoices.pdf(f"/DE/{ORDER_ID}.pdf", exact)
    assert len(fetch_url(cfg(invoices.base + "/DE/{order_id}.pdf"), ORDER_ID).data) == 10 * MB
    with pytest.raises(InvoiceMissing, match="over the 2 MB limit"):
        fetch_url(cfg(invoices.base + "/DE/{order_id}.pdf", max_mb=2), ORDER_ID)


def test_a_token_in_the_address_never_shows_in_the_reason(invoices):
    source = invoices.base + "/DE/{order_id}.pdf?token=top-secret"
    with pytest.raises(InvoiceMissing) as caught:
        fetch_url(cfg(source), ORDER_ID)
    assert "top-secret" not in caught.value.reason
    assert f"{invoices.base}/DE/{ORDER_ID}.pdf (HTTP 404)" in caught.value.reason
    assert invoices.requests == [f"/DE/{ORDER_ID}.pdf?token=top-secret"]  # but it is sent


def test_a_slow_server_times_out(invoices):
    invoices.slow(f"/DE/{ORDER_ID}.pdf", 3)
    started = time.monotonic()
    with pytest.raises(InvoiceMissing, match="could not be fetched from .*timed out"):
        fetch_url(cfg(invoices.base + "/DE/{order_id}.pdf", timeout=1), ORDER_ID)
    assert time.monotonic() - started < 2.5


def test_nothing_listening_is_a_fetch_problem():
    with pytest.raises(InvoiceMissing, match="could not be fetched from http://127.0.0.1:9/"):
        fetch_url(cfg("http://127.0.0.1:9/{order_id}.pdf"), ORDER_ID)


def test_an_order_id_cannot_escape_the_source():
    with pytest.raises(InvoiceMissing, match="cannot name an invoice file"):
        get_invoice(cfg("/srv/invoices", "folder"), "../../etc/passwd")


# -- the folder source -----------------------------------------------------------------------


def test_folder_source(tmp_path):
    folder = tmp_path / "invoices" / "DE"
    folder.mkdir(parents=True)
    source = cfg(str(tmp_path / "invoices" / "{marketplace}"), "folder")
    with pytest.raises(InvoiceMissing) as caught:
        read_folder(source, ORDER_ID)
    assert caught.value.reason == (
        f"waiting: invoice for {ORDER_ID} not found at {folder / (ORDER_ID + '.pdf')} "
        "(no such file)"
    )
    (folder / f"{ORDER_ID}.pdf").write_bytes(b"PK\x03\x04 a zip, not a pdf")
    with pytest.raises(InvoiceMissing, match="is not a PDF"):
        read_folder(source, ORDER_ID)
    (folder / f"{ORDER_ID}.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * (3 * MB))
    with pytest.raises(InvoiceMissing, match=r"is 3\.0 MB, over the 2 MB limit"):
        read_folder(cfg(source.source, "folder", max_mb=2), ORDER_ID)
    (folder / f"{ORDER_ID}.pdf").write_bytes(pdf_for(ORDER_ID))
    got = get_invoice(source, ORDER_ID)
    assert got.data == pdf_for(ORDER_ID) and got.where == str(folder / f"{ORDER_ID}.pdf")


def test_no_source_set_says_where_to_set_it():
    with pytest.raises(InvoiceMissing, match="no invoice source is set for DE"):
        get_invoice(cfg(""), ORDER_ID)


# -- send_vetoes and message_attachments as hook functions ---------------------------------


def new_message(order: Order, step: Step, **values) -> Message:
    values.setdefault("state", "sending")
    return Message.create(
        order=order,
        step=step,
        campaign=step.campaign_id,
        account=order.account_id,
        sender=step.sender,
        due_at=clock.utcnow(),
        **values,
    )


def eu_vat_reasons(engine, message, order) -> list[str]:
    return [r for r in engine.vetoes(message, order) if "invoice" in r]


def test_vetoes_follow_order_state_and_source(vat_engine, account, tmp_path):
    engine = vat_engine()
    step = invoice_step()
    delivered = new_orders(engine, account, "DE")["DE"]
    unshipped = new_orders(engine, account, "DE", delivered_days_ago=None)["DE"]
    message = new_message(delivered, step)
    assert eu_vat_reasons(engine, message, delivered) == [
        "waiting: no invoice source is set for DE (Plugins page, EU VAT invoices)"
    ]
    configure(engine, "DE", source_kind="folder", source=str(tmp_path))
    assert eu_vat_reasons(engine, message, delivered) == []
    assert eu_vat_reasons(engine, new_message(unshipped, step), unshipped) == [
        "waiting: the invoice is sent once the order has shipped"
    ]
    configure(engine, "DE", order_states="shipped")
    [reason] = eu_vat_reasons(engine, message, delivered)
    assert reason.startswith("excluded: in DE invoices go only to orders shipped and not yet")
    configure(engine, "DE", order_states="delivered")
    assert eu_vat_reasons(engine, message, delivered) == []
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    shipped = new_orders(
        engine, account, "DE", delivered_days_ago=None, events={"shipped": two_days_ago}
    )["DE"]
    assert eu_vat_reasons(engine, new_message(shipped, step), shipped) == [
        "waiting: in DE the invoice is sent once the order is delivered "
        "(eu_vat setting order_states)"
    ]
    # A step that is not an invoice step is none of eu_vat's business.
    other = Step.create(campaign=step.campaign, trigger="delivered", sender="email", name="x")
    assert eu_vat_reasons(engine, new_message(delivered, other), delivered) == []


def test_invoice_steps_are_recognised_by_type_or_template(engine):
    campaign = Campaign.create(name="c")
    library = Template.create(name="Invoice", channel="messaging", library_key="invoice")
    plain = Template.create(name="Manual", channel="email", message_type="instructions")

    def step(**values):
        return Step.create(campaign=campaign, trigger="shipped", sender="email", **values)

    assert is_invoice_step(step(message_type="sendInvoice"))
    assert is_invoice_step(step(message_type="invoice"))
    assert is_invoice_step(step(template=library))
    assert not is_invoice_step(step(template=plain))
    assert not is_invoice_step(step(message_type="createWarranty", template=library))
    assert not is_invoice_step(None)


def test_attachments_hook(vat_engine, account, invoices):
    engine = vat_engine()
    configure(engine, "DE", source=invoices.base + "/{marketplace}/{order_id}.pdf")
    orders = new_orders(engine, account, "DE", "US")
    de, us = orders["DE"], orders["US"]
    step = invoice_step()
    message = new_message(de, step)
    with pytest.raises(RetryLater) as caught:
        engine.attachments(de, message, step)
    assert caught.value.retry_after == 24 * 3600
    assert caught.value.reason.startswith(f"waiting: invoice for {de.order_id} not found")
    invoices.pdf(f"/DE/{de.order_id}.pdf", pdf_for(de.order_id))
    [attachment] = engine.attachments(de, message, step)
    assert attachment.kind == "invoice" and attachment.content_type == "application/pdf"
    assert attachment.filename == f"invoice-{de.order_id}.pdf"
    assert attachment.data == pdf_for(de.order_id)
    # Previews and campaign dry runs (unsaved messages) never download; other orders and
    # other steps get nothing.
    requests = len(invoices.requests)
    probe = Message(order=de, step=step, account=account.id, sender="email", state=SCHEDULED)
    assert engine.attachments(de, probe, step) == []
    assert engine.attachments(us, new_message(us, step), step) == []
    other = Step.create(campaign=step.campaign, trigger="delivered", sender="email", name="x")
    assert engine.attachments(de, new_message(de, other), other) == []
    assert len(invoices.requests) == requests


# -- engine level: orders from US, DE, JP and UK through planning and dispatch -------------


def test_de_and_uk_get_their_invoice_attached_us_and_jp_get_nothing(
    vat_engine, account, invoices, smtp, tmp_path
):
    engine = vat_engine(smtp=smtp)
    configure(engine, "DE", source=invoices.base + "/{marketplace}/{order_id}.pdf")
    folder = tmp_path / "invoices" / "UK"
    folder.mkdir(parents=True)
    configure(engine, "UK", source_kind="folder", source=str(tmp_path / "invoices/{marketplace}"))
    orders = new_orders(engine, account, "US", "DE", "JP", "UK")
    invoices.pdf(f"/DE/{orders['DE'].order_id}.pdf", pdf_for(orders["DE"].order_id))
    (folder / f"{orders['UK'].order_id}.pdf").write_bytes(pdf_for(orders["UK"].order_id))
    invoice_step()
    plan_orders(engine, [o.id for o in orders.values()])
    result = dispatch_due(engine)
    assert result.states == {SENT: 4}
    for mkt in ("DE", "UK"):
        order = orders[mkt]
        mail = mail_to(smtp, order.buyer_email)
        assert attachments_of(mail) == {f"invoice-{order.order_id}.pdf": pdf_for(order.order_id)}
        [part] = mail.iter_attachments()
        assert part.get_content_type() == "application/pdf"
    assert "Rechnung" in mail_to(smtp, orders["DE"].buyer_email)["Subject"]
    for mkt in ("US", "JP"):
        assert attachments_of(mail_to(smtp, orders[mkt].buyer_email)) == {}
        assert "invoice" not in (message_of(orders[mkt]).reason or "")
    assert invoices.requests == [f"/DE/{orders['DE'].order_id}.pdf"]  # US/JP never asked


def test_missing_invoice_is_a_visible_retry_then_sends_once_it_appears(
    vat_engine, account, invoices, smtp
):
    engine = vat_engine(smtp=smtp)
    configure(engine, "DE", source=invoices.base + "/{marketplace}/{order_id}.pdf")
    configure(engine, "DE", recheck_hours=6)
    order = new_orders(engine, account, "DE")["DE"]
    invoice_step()
    plan_orders(engine, [order.id])
    assert dispatch_due(engine).states == {RETRY: 1}
    message = message_of(order)
    pattern = (
        rf"waiting: invoice for {order.order_id} not found at "
        rf"{re.escape(invoices.base)}/DE/{order.order_id}\.pdf \(HTTP 404\); "
        r"next check (\d{4}-\d\d-\d\d \d\d:\d\d) UTC"
    )
    match = re.fullmatch(pattern, message.reason)
    assert match, message.reason
    assert message.state == RETRY and message.attempts == 1
    assert match.group(1) == f"{message.due_at:%Y-%m-%d %H:%M}"
    assert timedelta(hours=5, minutes=59) < message.due_at - clock.utcnow() <= timedelta(hours=6)
    assert smtp.received == []
    # No call to the channel was started: nothing can be in doubt.
    assert not Attempt.select().where(Attempt.message == message.id).exists()
    # Not due yet: nothing happens.
    assert dispatch_due(engine).claimed == 0
    # The invoice appears; at the next check the message goes out with it.
    invoices.pdf(f"/DE/{order.order_id}.pdf", pdf_for(order.order_id))
    clock.freeze(message.due_at + timedelta(minutes=1))
    assert dispatch_due(engine).states == {SENT: 1}
    message = message_of(order)
    assert message.state == SENT and message.attempts == 2
    assert attachments_of(mail_to(smtp, order.buyer_email)) == {
        f"invoice-{order.order_id}.pdf": pdf_for(order.order_id)
    }


def test_missing_invoice_gives_up_after_the_attempts_with_a_final_reason(
    vat_engine, account, invoices
):
    engine = vat_engine(dispatch={"max_attempts": 2})
    configure(engine, "DE", source=invoices.base + "/{marketplace}/{order_id}.pdf")
    order = new_orders(engine, account, "DE")["DE"]
    invoices.page(f"/DE/{order.order_id}.pdf", b"<html>Invoice is being generated</html>")
    invoice_step(sender="dry_run")
    plan_orders(engine, [order.id])
    assert dispatch_due(engine).states == {RETRY: 1}
    clock.freeze(message_of(order).due_at + timedelta(minutes=1))
    assert dispatch_due(engine).states == {FAILED: 1}
    message = message_of(order)
    assert message.state == FAILED
    assert message.error.startswith(
        f"gave up after 2 attempts: invoice for {order.order_id} at "
        f"{invoices.base}/DE/{order.order_id}.pdf is not a PDF"
    )


def test_the_30_day_limit_ends_a_wait_for_the_invoice(vat_engine, account, tmp_path):
    engine = vat_engine()
    configure(engine, "DE", source_kind="folder", source=str(tmp_path), recheck_hours=48)
    order = new_orders(engine, account, "DE", days_ago=33, delivered_days_ago=29)["DE"]
    invoice_step(sender="dry_run")
    plan_orders(engine, [order.id])
    assert dispatch_due(engine).states == {RETRY: 1}
    clock.freeze(message_of(order).due_at + timedelta(minutes=1))
    assert dispatch_due(engine).states == {SKIPPED: 1}
    assert message_of(order).reason.startswith("excluded: more than 30 days after order")


def test_disabling_eu_vat_for_de_changes_only_de(vat_engine, account, invoices, smtp, tmp_path):
    engine = vat_engine(smtp=smtp)
    for mkt in ("DE", "UK"):
        configure(engine, mkt, source=invoices.base + "/{marketplace}/{order_id}.pdf")
        configure(engine, mkt, vat_id=f"{mkt}123")
    engine.set_plugin_setting("eu_vat", "enabled", False, "DE")
    assert not engine.plugin_enabled("eu_vat", "DE") and engine.plugin_enabled("eu_vat", "UK")
    orders = new_orders(engine, account, "DE", "UK")
    invoices.pdf(f"/UK/{orders['UK'].order_id}.pdf", pdf_for(orders["UK"].order_id))
    assert "vat_id" not in engine.template_context(orders["DE"], None)
    assert engine.template_context(orders["UK"], None)["vat_id"] == "UK123"
    invoice_step()
    plan_orders(engine, [o.id for o in orders.values()])
    assert dispatch_due(engine).states == {SENT: 2}
    # DE: eu_vat is not consulted (no invoice fetched, none attached); UK unchanged.
    assert attachments_of(mail_to(smtp, orders["DE"].buyer_email)) == {}
    assert attachments_of(mail_to(smtp, orders["UK"].buyer_email)) == {
        f"invoice-{orders['UK'].order_id}.pdf": pdf_for(orders["UK"].order_id)
    }
    assert invoices.requests == [f"/UK/{orders['UK'].order_id}.pdf"]
    # Turned back on, DE's next invoice waits for its file again.
    engine.set_plugin_setting("eu_vat", "enabled", True, "DE")
    late = new_orders(engine, account, "DE")["DE"]
    plan_orders(engine, [late.id])
    assert dispatch_due(engine).states == {RETRY: 1}
    assert message_of(late).reason.startswith(f"waiting: invoice for {late.order_id} not found")


# -- the core mechanism: RetryLater from any plugin ------------------------------------------


class WaitsForManual:
    """A throw-away plugin whose placeholder is not ready until ``ready`` is set."""

    ready = False

    @hookimpl
    def template_context(self, engine, order, message):
        if not self.ready:
            raise RetryLater("waiting: manual not uploaded yet", retry_after=600)
        return {"manual_name": "Manual v2"}


def test_core_retry_later_is_a_retry_state_then_a_final_failure(make_engine, account):
    plugin = WaitsForManual()
    engine = make_engine(extra_plugins=[("waits", plugin)], dispatch={"max_attempts": 3})
    [pk] = store_orders(account, [order_data("US")], "test", set(engine.marketplaces)).changed_ids
    step = invoice_step(sender="dry_run", message_type="instructions")
    plan_orders(engine, [pk])
    clock.freeze(clock.utcnow())
    for attempt in (1, 2):
        assert dispatch_due(engine).states == {RETRY: 1}
        message = Message.get(Message.order == pk)
        assert message.attempts == attempt and message.next_attempt_at == message.due_at
        assert message.reason.startswith("waiting: manual not uploaded yet; next check ")
        assert message.due_at - clock.utcnow() == timedelta(seconds=600)
        clock.freeze(message.due_at)
    assert dispatch_due(engine).states == {FAILED: 1}
    assert Message.get(Message.order == pk).error == (
        "gave up after 3 attempts: manual not uploaded yet"
    )
    # A campaign dry run counts it as waiting instead of crashing.
    report = dry_run(engine, step.campaign)
    assert report.waiting == 1 and report.would_send == 0
    plugin.ready = True
    assert dry_run(engine, step.campaign).would_send == 1


# -- the Messaging API: sendInvoice through amazon_messaging, against the fake SP-API -------


@pytest.mark.parametrize("message_type", ["invoice", "sendInvoice"])
def test_invoice_goes_out_through_messaging_send_invoice(make_engine, invoices, fake, message_type):
    from core.sync import sync_account
    from tests.fake_spapi.harness import amazon_settings, connect, messaging_step

    engine = make_engine(
        plugins={"enabled": ["amazon", "demo", "eu_vat"]},
        plugin_settings=amazon_settings(fake),
    )
    configure(engine, "DE", source=invoices.base + "/{marketplace}/{order_id}.pdf")
    account = connect(engine)
    order_id = "302-7777777-1234567"
    fake.add_order(order_id, delivered_days_ago=2)
    messaging_step(
        message_type,
        {"de": "Anbei die Rechnung zu Ihrer Bestellung {{ order_id }}."},
    )
    result = sync_account(engine, account.id)
    assert not result.errors, result.errors
    plan_orders(engine, result.changed_ids)
    # Not there yet: a visible retry, and nothing reaches Amazon's send operation.
    assert dispatch_due(engine).states == {RETRY: 1}, Message.get().reason
    assert fake.count("sendInvoice") == 0 and not fake.uploads
    invoices.pdf(f"/DE/{order_id}.pdf", pdf_for(order_id))
    clock.freeze(Message.get().due_at + timedelta(minutes=1))
    assert dispatch_due(engine).states == {SENT: 1}, Message.get().error
    [(kind, body)] = fake.messages[order_id]
    assert kind == "invoice" and "text" not in body  # sendInvoice carries only files
    [attachment] = body["attachments"]
    assert attachment["fileName"] == f"invoice-{order_id}.pdf"
    upload = fake.uploads[attachment["uploadDestinationId"]]
    assert upload["data"] == pdf_for(order_id)
    assert upload["resource"].endswith(f"/orders/{order_id}/messages/invoice")


# -- default_sequences ------------------------------------------------------------------------


def test_invoice_preset_for_eu_marketplaces_only(vat_engine):
    from core.campaigns import create_from_preset

    engine = vat_engine()
    mine = {
        mkt: [p for p in engine.presets(mkt, "FBM") if p.name.startswith("eu-vat-")]
        for mkt in ("DE", "UK", "PL", "US", "JP")
    }
    assert not mine["US"] and not mine["JP"]
    [preset] = mine["DE"]
    assert preset.label == "FBM DE: VAT invoice when shipped" and preset.marketplace == "DE"
    assert "no pl text" in mine["PL"][0].description
    assert "no " not in preset.description
    campaign = create_from_preset(engine, preset)
    [step] = list(campaign.steps)
    assert (step.trigger, step.sender, step.message_type) == (
        "shipped",
        "amazon_messaging",
        "invoice",
    )
    assert step.template.library_key == "invoice" and is_invoice_step(step)
