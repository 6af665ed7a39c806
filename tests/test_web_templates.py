"""The Templates pages through the Flask client: library, import, editor, live lint,
versions and diff, themes, test send, roles."""

from __future__ import annotations

import html
import re

from core.library import get_template
from core.models import AuditLog, EmailTheme, SellerAccount, Template, TemplateVersion
from core.store import store_orders
from tests.conftest import order_data
from tests.support.web import csrf_token, login, make_admin

HX = {"HX-Request": "true"}


def _import(client, key="product_instructions") -> Template:
    token = csrf_token(client, "/templates/")
    response = client.post(f"/templates/import/{key}", data={"csrf_token": token})
    assert response.status_code == 302
    return Template.get(Template.library_key == key)


def _form(client, template, **fields) -> dict:
    data = {
        "csrf_token": csrf_token(client, f"/templates/{template.id}"),
        "language": "en",
        "subject": "Set-up instructions for your order {{ order_id }}",
        "body": get_template(template.library_key).variants["en"].body
        if template.library_key
        else "",
        "theme": "",
        "order": "",
    }
    data.update(fields)
    return data


def _versions(template):
    return list(
        TemplateVersion.select()
        .where(TemplateVersion.template == template)
        .order_by(TemplateVersion.number)
    )


def test_library_lists_every_shipped_template_and_says_what_to_do(signed_in):
    page = signed_in.get("/templates/").get_data(as_text=True)
    assert "You have no templates yet" in page
    for name in ("Review request", "Product instructions and manual", "Customization"):
        assert name in page
    assert page.count('action="/templates/import/') == 7
    assert "Languages: de, en, es, fr, it, ja" in page


def test_import_creates_version_one_with_every_language(signed_in):
    template = _import(signed_in)
    (v1,) = _versions(template)
    assert sorted(v.language for v in v1.variants) == ["de", "en", "es", "fr", "it", "ja"]
    page = signed_in.get("/templates/").get_data(as_text=True)
    assert "You have no templates yet" not in page
    assert "Imported: edit" in page
    assert page.count('class="has-lang"') == 6
    assert _import(signed_in).id == template.id  # importing twice keeps one copy
    assert Template.select().count() == 1


def test_editor_shows_palette_with_plugin_placeholders_and_a_clean_preview(signed_in):
    template = _import(signed_in)
    page = signed_in.get(f"/templates/{template.id}?lang=de").get_data(as_text=True)
    assert "Bedienungsanleitung" in page  # the German variant is the one in the form
    assert 'data-insert="{{ order_id }}"' in page
    assert "305-1234567-7654321" in page  # example value next to it
    assert 'data-insert="{{ review_link }}"' in page  # given by the amazon plugin
    assert 'data-insert="{{ marketplace_name }}"' in page  # built in, not in the library list
    assert 'hx-trigger="input changed delay:400ms, change"' in page
    assert "No findings" in page


def test_save_creates_version_two_and_never_changes_version_one(signed_in):
    template = _import(signed_in)
    v1_en = next(v for v in _versions(template)[0].variants if v.language == "en")
    old_body = v1_en.body
    new_body = old_body.replace("Before first use", "Before you switch it on")
    response = signed_in.post(
        f"/templates/{template.id}", data=_form(signed_in, template, body=new_body, note="wording")
    )
    assert response.status_code == 302
    v1, v2 = _versions(template)
    assert v2.number == 2 and v2.note == "wording" and v2.created_by == "admin"
    variants1 = {v.language: v for v in v1.variants}
    variants2 = {v.language: v for v in v2.variants}
    assert variants1["en"].body == old_body  # history is untouched
    assert variants2["en"].body == new_body
    assert variants2["de"].body == variants1["de"].body  # other languages carried over
    page = signed_in.get(f"/templates/{template.id}").get_data(as_text=True)
    assert "Saved version 2" in page and "Save as version 3" in page
    # saving the same text again makes no empty version
    signed_in.post(f"/templates/{template.id}", data=_form(signed_in, template, body=new_body))
    assert len(_versions(template)) == 2
    assert AuditLog.select().where(AuditLog.action == "template_saved").count() >= 2


def test_misspelled_placeholder_is_refused_at_save_and_preview(signed_in):
    template = _import(signed_in)
    body = "Hello,\n\nthe manual for order {{ order_idd }} is attached.\n\nBest regards"
    response = signed_in.post(
        f"/templates/{template.id}", data=_form(signed_in, template, body=body)
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "did you mean &#39;order_id&#39;" in page
    assert "{{ order_idd }}" in page  # the form keeps what was typed
    assert len(_versions(template)) == 1
    fragment = signed_in.post(
        f"/templates/{template.id}/preview", data=_form(signed_in, template, body=body), headers=HX
    )
    assert fragment.status_code == 422
    text = fragment.get_data(as_text=True)
    assert "unknown placeholder &#39;order_idd&#39;" in text and "<html" not in text
    # without JavaScript the Preview button shows the whole editor with the same errors
    full = signed_in.post(
        f"/templates/{template.id}/preview", data=_form(signed_in, template, body=body)
    )
    assert full.status_code == 422
    assert '<form id="template-form"' in full.get_data(as_text=True)
    assert "unknown placeholder &#39;order_idd&#39;" in full.get_data(as_text=True)


def _lint(client, template, body):
    response = client.post(
        f"/templates/{template.id}/preview", data=_form(client, template, body=body), headers=HX
    )
    return response.status_code, response.get_data(as_text=True)


def test_live_lint_marks_phone_numbers_and_star_requests_and_passes_clean_text(signed_in):
    template = _import(signed_in)
    clean = get_template("product_instructions").variants["en"].body
    status, fragment = _lint(signed_in, template, clean)
    assert status == 200 and "No findings" in fragment
    assert "305-1234567-7654321" in fragment  # rendered on example values

    phone = clean.replace("Best regards,", "Call us on +49 30 12345678 any time.\n\nBest regards,")
    status, fragment = _lint(signed_in, template, phone)
    assert "FU-PHONE" in fragment and "<mark>+49 30 12345678</mark>" in fragment
    assert "Phone numbers are not allowed" in fragment and "Error" in fragment

    stars = clean.replace("Best regards,", "Please leave us 5 stars.\n\nBest regards,")
    status, fragment = _lint(signed_in, template, stars)
    assert "FU-REVIEW-POSITIVE" in fragment and "<mark>5 stars</mark>" in fragment
    # a save with a compliance error is refused too
    response = signed_in.post(
        f"/templates/{template.id}", data=_form(signed_in, template, body=stars)
    )
    assert response.status_code == 422 and len(_versions(template)) == 1


def test_preview_on_a_real_recent_order(signed_in, account, engine):
    data = order_data("DE", sku="LAMP-1")
    store_orders(account, [data], "test", set(engine.marketplaces))
    template = _import(signed_in)
    page = signed_in.get(f"/templates/{template.id}").get_data(as_text=True)
    assert f"on order {data.order_id} (DE)" in page
    assert "Test product" in page  # the order's own product title


def test_diff_between_two_versions_shows_the_changed_line(signed_in):
    template = _import(signed_in)
    body = get_template("product_instructions").variants["en"].body
    new_body = body.replace("the short manual", "the illustrated manual", 1)
    signed_in.post(f"/templates/{template.id}", data=_form(signed_in, template, body=new_body))
    page = signed_in.get(f"/templates/{template.id}/versions?a=1&b=2").get_data(as_text=True)
    assert "1 line added, 1 removed" in page
    removed = re.search(r'<tr class="diff-removed">(.*?)</tr>', page, re.S).group(1)
    added = re.search(r'<tr class="diff-added">(.*?)</tr>', page, re.S).group(1)
    assert (
        "removed" in removed
        and "<del>[en] {% if manual_link %}Before first use, please read the short manual:"
        in removed
    )
    assert (
        "added" in added
        and "<ins>[en] {% if manual_link %}Before first use, please read the illustrated manual:"
        in added
    )
    same = signed_in.get(f"/templates/{template.id}/versions?a=2&b=2").get_data(as_text=True)
    assert "identical" in same
    assert signed_in.get(f"/templates/{template.id}/versions?a=1&b=9").status_code == 404


def test_theme_picker_changes_the_html_preview(signed_in):
    template = _import(signed_in)
    plain = _lint(signed_in, template, get_template("product_instructions").variants["en"].body)
    assert "plain text only" in plain[1]
    fragment = signed_in.post(
        f"/templates/{template.id}/preview",
        data=_form(signed_in, template, theme="brand_bar"),
        headers=HX,
    ).get_data(as_text=True)
    assert "border-top: 6px solid #1f5fbf" in fragment  # in the HTML source
    form = re.search(r'<form class="html-preview-form".*?</form>', fragment, re.S).group(0)
    action = re.search(r'action="([^"]+)"', form).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    framed = signed_in.post(action, data={k: html.unescape(v) for k, v in fields.items()})
    assert "border-top: 6px solid #1f5fbf" in framed.get_data(as_text=True)
    assert "sandbox" in framed.headers["Content-Security-Policy"]
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    header = signed_in.post(
        f"/templates/{template.id}/preview",
        data=_form(signed_in, template, theme="simple_header"),
        headers=HX,
    ).get_data(as_text=True)
    assert "&lt;h2&gt;Set-up instructions for your order 305-1234567-7654321&lt;/h2&gt;" in header
    stars = get_template("product_instructions").variants["en"].body + "\n\nGive us 5 stars."
    themed = signed_in.post(
        f"/templates/{template.id}/preview",
        data=_form(signed_in, template, theme="brand_bar", body=stars),
        headers=HX,
    ).get_data(as_text=True)
    # the HTML repeats the text: its finding is shown once, not once per field
    assert themed.count("FU-REVIEW-POSITIVE</code>") == 1
    signed_in.post(f"/templates/{template.id}", data=_form(signed_in, template, theme="boxed"))
    assert _versions(template)[-1].theme == "boxed"
    diff = signed_in.get(f"/templates/{template.id}/versions").get_data(as_text=True)
    assert "<ins>Theme: boxed</ins>" in diff


def test_seller_theme_that_breaks_a_rule_is_refused_with_422(signed_in):
    token = csrf_token(signed_in, "/templates/themes")
    bad = signed_in.post(
        "/templates/themes",
        data={"csrf_token": token, "name": "Centered", "layout": "<center>{{ body }}</center>"},
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "FU-HTML-CENTER" in page and "<mark>&lt;center</mark>" in page
    assert EmailTheme.select().count() == 0
    good = signed_in.post(
        "/templates/themes",
        data={
            "csrf_token": token,
            "name": "Left line",
            "layout": '<div style="border-left: 3px solid #333">{{ body }}</div>',
        },
    )
    assert good.status_code == 302
    assert "Left line" in signed_in.get("/templates/themes").get_data(as_text=True)
    template = _import(signed_in)
    assert 'value="custom-left-line"' in signed_in.get(f"/templates/{template.id}").get_data(
        as_text=True
    )


def test_test_send_goes_to_the_test_address_through_the_dry_run(signed_in, account, engine):
    template = _import(signed_in)
    token = csrf_token(signed_in, f"/templates/{template.id}/versions")
    url = f"/templates/{template.id}/test-send"
    send = {"csrf_token": token, "account": account.id, "language": "en"}
    page = signed_in.post(url, data=send, follow_redirects=True).get_data(as_text=True)
    assert "has no test address" in page
    SellerAccount.update(test_address="me@shop.example").execute()
    store_orders(account, [order_data("US")], "test", set(engine.marketplaces))
    page = signed_in.post(url, data=send, follow_redirects=True).get_data(as_text=True)
    # the order's product has neither a manual link nor an attached manual
    assert "Test not sent" in page and "no manual for this product" in page
    body = "Hello,\n\nplease read the manual in the box before using order {{ order_id }}.\n"
    signed_in.post(f"/templates/{template.id}", data=_form(signed_in, template, body=body))
    page = signed_in.post(url, data=send, follow_redirects=True).get_data(as_text=True)
    assert "dry run: recorded, not sent" in page
    assert "Test of version 2 (en) for me@shop.example" in page
    entry = AuditLog.get(AuditLog.action == "template_test_send")
    assert "me@shop.example" in entry.detail and "Set-up instructions" in entry.detail


def test_request_a_review_template_has_no_body(signed_in):
    template = Template.create(name="Amazon review", channel="solicitation")
    page = signed_in.get(f"/templates/{template.id}").get_data(as_text=True)
    assert "no subject or body to write" in page and "<textarea" not in page


def test_viewer_can_read_but_not_edit(client, app):
    template = Template.create(name="T", channel="email", library_key="")
    make_admin("vera", role="viewer")
    login(client, "vera")
    token = csrf_token(client, "/templates/")
    assert "Import" not in client.get("/templates/").get_data(as_text=True).split("Shipped")[1]
    assert client.post("/templates/import/warranty", data={"csrf_token": token}).status_code == 403
    page = client.get(f"/templates/{template.id}").get_data(as_text=True)
    assert "saving needs the editor role" in page and "Save as version" not in page
    data = {"csrf_token": token, "language": "en", "subject": "s", "body": "b {{ order_id }}"}
    assert client.post(f"/templates/{template.id}", data=data).status_code == 403
    assert client.post("/templates/themes", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/templates/{template.id}/test-send", data=data).status_code == 403
    assert TemplateVersion.select().count() == 0


def test_a_variant_with_its_own_html_previews_that_html_not_a_theme(signed_in):
    from core.templates import save_version

    template = Template.create(name="Own HTML", channel="email")
    body = "Hello,\n\nplease read the manual in the box before using order {{ order_id }}."
    html = "<p>Manual for order <b>{{ order_id }}</b></p>"
    save_version(template, {"en": {"subject": "Order {{ order_id }}", "body": body, "html": html}})
    page = signed_in.get(f"/templates/{template.id}").get_data(as_text=True)
    assert "has its own HTML, which is sent instead of a theme" in page
    fragment = signed_in.post(
        f"/templates/{template.id}/preview",
        data=_form(signed_in, template, subject="Order {{ order_id }}", body=body, theme="boxed"),
        headers=HX,
    ).get_data(as_text=True)
    assert "&lt;b&gt;305-1234567-7654321&lt;/b&gt;" in fragment
    assert "border: 1px solid" not in fragment


def _palette_entry(page: str, name: str) -> tuple[str, str]:
    """(status, inner html) of one placeholder of the editor's palette."""
    match = re.search(
        rf'<li class="placeholder status-(\w+)" id="ph-{name}">(.*?)</li>', page, re.S
    )
    assert match, f"{name} is not in the palette"
    return match.group(1), match.group(2)


def test_palette_names_each_placeholders_plugin_and_what_the_channel_allows(signed_in):
    review = Template.create(name="Review ask", channel="email", message_type="review_request")
    page = signed_in.get(f"/templates/{review.id}").get_data(as_text=True)
    status, entry = _palette_entry(page, "review_link")
    assert status == "ok" and '<span class="provider"' in entry and ">amazon<" in entry
    assert "Only in a review request, once per order." in entry
    status, entry = _palette_entry(page, "order_id")
    assert status == "ok" and ">built-in<" in entry
    # no loaded plugin gives invoice fields: listed, with what to enable, not hidden
    status, entry = _palette_entry(page, "invoice_link")
    assert status == "unavailable" and "enable the eu_vat plugin" in entry
    assert "not available here" in entry

    messaging = Template.create(name="Set-up", channel="messaging", message_type="instructions")
    page = signed_in.get(f"/templates/{messaging.id}").get_data(as_text=True)
    status, entry = _palette_entry(page, "review_link")
    assert status == "unavailable" and "The Messaging API has no review-request message" in entry
    assert 'data-insert="{{ review_link }}"' in entry  # still insertable, but flagged
    status, entry = _palette_entry(page, "product_title")
    assert status == "ok" and "not available here" not in entry
    # using it anyway: the live preview warns (it does not block a save)
    body = "Hello,\n\nabout order {{ order_id }}: {{ review_link }}"
    fragment = signed_in.post(
        f"/templates/{messaging.id}/preview",
        data=_form(signed_in, messaging, subject="", body=body),
        headers=HX,
    ).get_data(as_text=True)
    assert "FU-PLACEHOLDER-UNAVAILABLE" in fragment
    assert "{{ review_link }} is not available here: The Messaging API" in fragment
    clean = "Hello,\n\nabout order {{ order_id }}: {{ product_title }}"
    fragment = signed_in.post(
        f"/templates/{messaging.id}/preview",
        data=_form(signed_in, messaging, subject="", body=clean),
        headers=HX,
    ).get_data(as_text=True)
    assert "FU-PLACEHOLDER-UNAVAILABLE" not in fragment


def test_palette_follows_the_marketplaces_and_triggers_of_the_steps_using_it(make_engine):
    from core.models import Campaign, Step
    from web.message_templates.palette import palette

    eng = make_engine(plugins={"enabled": ["amazon", "demo", "eu_vat"], "entrypoints": False})
    template = Template.create(name="Invoice", channel="messaging", message_type="invoice")

    def entry(name):
        return next(p for p in palette(eng, template) if p["name"] == name)

    assert entry("invoice_link")["plugin"] == "eu_vat"
    assert entry("invoice_link")["status"] == "limited"
    assert entry("delivery_date")["status"] == "limited"
    us = SellerAccount.create(name="US shop", source="demo", marketplaces=["US"])
    campaign = Campaign.create(name="US invoices", account=us)
    Step.create(campaign=campaign, trigger="shipped", sender="amazon_messaging", template=template)
    invoice = entry("invoice_link")
    assert invoice["status"] == "unavailable" and "sell in US" in invoice["note"]
    assert entry("vat_id")["status"] == "unavailable"
    delivery = entry("delivery_date")
    assert delivery["status"] == "unavailable" and "start at shipped" in delivery["note"]
    de = SellerAccount.create(name="DE shop", source="demo", marketplaces=["DE"])
    campaign = Campaign.create(name="DE invoices", account=de)
    Step.create(
        campaign=campaign, trigger="delivered", sender="amazon_messaging", template=template
    )
    assert entry("invoice_link")["status"] == "limited"
    assert entry("delivery_date")["status"] == "limited"


def test_saving_with_a_theme_stores_it_and_audits_the_save_once(signed_in):
    template = _import(signed_in)
    body = _form(signed_in, template)["body"] + "\nThank you."
    response = signed_in.post(
        f"/templates/{template.id}", data=_form(signed_in, template, body=body, theme="boxed")
    )
    assert response.status_code == 302
    v1, v2 = _versions(template)
    assert (v1.theme, v2.theme) == ("", "boxed")
    saves = AuditLog.select().where(AuditLog.action == "template_saved")
    assert [a.detail for a in saves.order_by(AuditLog.id)] == ["version 1", "version 2"]
