"""The seller's file library: manuals per SKU and language reach the right messages, and
uploads Amazon would refuse are refused at upload with the field to fix."""

from __future__ import annotations

import pytest

from core import Sender, SendResult, hookimpl
from core.attachments import MAX_BYTES, FileError, StoredFile, Upload, files_for, store
from core.dispatch import dispatch_due
from core.models import Campaign, SellerAccount, Step, Template, TemplateVariant, TemplateVersion
from core.planning import plan_orders
from core.store import store_orders
from tests.conftest import order_data

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


class Recorder:
    def __init__(self):
        self.sent = []

    @hookimpl
    def register_senders(self, engine):
        def send(engine, message, order, rendered):
            self.sent.append((order.order_id, rendered))
            return SendResult("sent")

        return [Sender("recorder", "Recorder", send)]


@pytest.fixture
def setup(make_engine):
    recorder = Recorder()
    engine = make_engine(extra_plugins=[("rec", recorder)])
    template = Template.create(name="Manual", channel="messaging", message_type="")
    version = TemplateVersion.create(template=template, number=1)
    for language, body in (
        ("en", "Order {{ order_id }}: the manual for your {{ product_title }} is attached."),
        ("de", "Bestellung {{ order_id }}: Die Anleitung für {{ product_title }} ist angehängt."),
    ):
        TemplateVariant.create(version=version, language=language, body=body)
    campaign = Campaign.create(name="Manuals", status="active")
    step = Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="recorder",
        template=template,
        window_start_hour=0,
        window_end_hour=24,
    )
    return engine, recorder, campaign, step


def upload(campaign=None, step=None, **kw):
    values = dict(name="Manual", kind="instructions", filename="manual.pdf", data=PDF)
    values.update(kw)
    return Upload(
        campaign_id=campaign.id if campaign else None, step_id=step.id if step else None, **values
    )


def send_to(engine, recorder, *orders):
    account = SellerAccount.create(name="S", source="demo")
    result = store_orders(account, list(orders), "test", set(engine.marketplaces))
    plan_orders(engine, result.changed_ids)
    dispatch_due(engine)
    return {order_id: [a.filename for a in r.attachments] for order_id, r in recorder.sent}


def test_manual_per_sku_and_language_reaches_only_matching_orders(setup):
    engine, recorder, campaign, step = setup
    store(upload(campaign, filename="safety.pdf", name="Safety sheet"))
    store(upload(step=step, filename="kettle-en.pdf", sku="KETTLE", language="en"))
    store(upload(step=step, filename="kettle-de.pdf", sku="KETTLE", language="de"))
    us_kettle = order_data("US", sku="KETTLE")
    de_kettle = order_data("DE", sku="KETTLE")
    us_lamp = order_data("US", sku="LAMP")
    sent = send_to(engine, recorder, us_kettle, de_kettle, us_lamp)
    assert sent[us_kettle.order_id] == ["safety.pdf", "kettle-en.pdf"]
    assert sent[de_kettle.order_id] == ["safety.pdf", "kettle-de.pdf"]
    assert sent[us_lamp.order_id] == ["safety.pdf"]


def test_files_of_another_campaign_are_not_attached(setup):
    engine, recorder, campaign, step = setup
    other = Campaign.create(name="Other", status="draft")
    store(upload(other, filename="other.pdf"))
    assert files_for(step, {"SKU-1"}, "en") == []


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"kind": "invoice"}, "kind", "eu_vat"),
        ({"kind": "coupon"}, "kind", "instructions, invoices and warranty"),
        ({"filename": "promo.exe"}, "file", "Amazon accepts"),
        ({"filename": "manual.pdf", "data": b"<html>not a pdf</html>"}, "file", "renamed"),
        ({"data": b""}, "file", "empty"),
        ({"data": b"%PDF-" + b"0" * MAX_BYTES}, "file", "10 MB"),
        ({"name": "  "}, "name", "name"),
    ],
)
def test_uploads_amazon_would_refuse_are_refused_with_the_field(setup, changes, field, says):
    _, _, campaign, _ = setup
    with pytest.raises(FileError) as caught:
        store(upload(campaign, **changes))
    assert caught.value.field == field and says in str(caught.value)
    assert StoredFile.select().count() == 0


def test_upload_needs_a_campaign_and_a_step_of_that_campaign(setup):
    _, _, campaign, step = setup
    with pytest.raises(FileError, match="Choose the campaign"):
        store(upload())
    other = Campaign.create(name="Other")
    with pytest.raises(FileError, match="another campaign"):
        store(upload(other, step))
    saved = store(upload(step=step, filename="warranty.txt", kind="warranty", data=b"2 years"))
    assert saved.campaign_id == campaign.id and saved.content_type == "text/plain"


def test_deleting_a_campaign_deletes_its_files(setup):
    _, _, campaign, _ = setup
    store(upload(campaign))
    campaign.delete_instance()  # the database cascades to its steps and files
    assert StoredFile.select().count() == 0


def test_files_page_upload_refusal_and_delete(engine, signed_in):
    from io import BytesIO

    from tests.support.web import csrf_token

    campaign = Campaign.create(name="Kettle manuals")
    page = signed_in.get("/files/").get_data(as_text=True)
    assert "No files yet" in page and "Kettle manuals: every step" in page
    token = csrf_token(signed_in, "/files/")

    def post(filename, data, kind="instructions"):
        return signed_in.post(
            "/files/",
            data={
                "csrf_token": token,
                "name": "Kettle manual",
                "kind": kind,
                "target": f"campaign:{campaign.id}",
                "sku": "KETTLE",
                "file": (BytesIO(data), filename),
            },
            content_type="multipart/form-data",
        )

    refused = post("kettle.pdf", b"MZ\x90 an executable")
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "does not contain PDF data" in body and 'value="Kettle manual"' in body
    assert post("kettle.pdf", PDF).status_code == 302
    listed = signed_in.get("/files/").get_data(as_text=True)
    assert "kettle.pdf" in listed and "KETTLE" in listed
    (stored,) = StoredFile.select()
    assert signed_in.get(f"/files/{stored.id}").data == PDF
    assert (
        signed_in.post(f"/files/{stored.id}/delete", data={"csrf_token": token}).status_code == 302
    )
    assert StoredFile.select().count() == 0


def test_instructions_template_needs_a_manual_link_or_file(make_engine):
    """The shipped instructions template: a link, an attached manual, or a clear skip."""
    from core.models import Message
    from core.templates import import_from_library

    recorder = Recorder()
    engine = make_engine(extra_plugins=[("rec", recorder)])
    template = import_from_library("product_instructions")
    campaign = Campaign.create(name="Manuals", status="active")
    step = Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="recorder",
        template=template,
        window_start_hour=0,
        window_end_hour=24,
        product_content={"LINKED": {"manual_link": "https://manuals.example.com/linked.pdf"}},
    )
    store(upload(step=step, filename="filed.pdf", sku="FILED"))
    linked, filed, bare = (order_data("DE", sku=s) for s in ("LINKED", "FILED", "BARE"))
    sent = send_to(engine, recorder, linked, filed, bare)
    texts = {order_id: r.text for order_id, r in recorder.sent}
    assert "https://manuals.example.com/linked.pdf" in texts[linked.order_id]
    assert sent[filed.order_id] == ["filed.pdf"]
    assert "im Anhang dieser Nachricht" in texts[filed.order_id]
    assert bare.order_id not in sent
    skipped = Message.get(Message.state == "skipped")
    assert "no manual for this product" in skipped.reason
