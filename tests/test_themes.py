"""Email themes: shipped layouts lint clean, bad seller layouts are refused, and a themed
template's email carries the layout around the text (through the real email sender)."""

from __future__ import annotations

import pytest

from core import compliance, themes
from core.compose import compose
from core.models import AuditLog, EmailTheme, Template, TemplateVersion
from core.templates import save_version
from tests.support.mail import new_message, new_order, received_mail

BODY = (
    "Hello,\n\nhere is the manual for your order {{ order_id }}:\n"
    "keep the lamp away from water and clean it with a dry cloth.\n\nBest regards,\nShop & Co"
)


@pytest.mark.parametrize("theme", themes.SHIPPED, ids=lambda t: t.key)
def test_every_shipped_theme_lints_clean_and_keeps_the_text(engine, theme):
    assert themes.lint_layout(theme.layout) == []
    # also with the engine's full rule set (plugins may add checks)
    assert themes.lint_layout(theme.layout, engine.content_checks(None)) == []
    html = themes.wrap(theme.layout, "Hi <b>you</b>,\n\nline one\nline two", "Order 1 & 2")
    assert "Hi &lt;b&gt;you&lt;/b&gt;," in html  # the text is escaped, never markup
    assert "<p>line one<br>\nline two</p>" in html
    assert "{{" not in html
    if "{{ subject }}" in theme.layout:
        assert "Order 1 &amp; 2" in html


def test_body_becomes_paragraphs_with_links_and_no_triple_breaks():
    html = themes.body_to_html("A\n\n\n\nB https://x.example.com/a?b=1&c=2.\nC")
    assert html == (
        "<p>A</p>\n<p>B "
        '<a href="https://x.example.com/a?b=1&amp;c=2">https://x.example.com/a?b=1&amp;c=2</a>.'
        "<br>\nC</p>"
    )
    inp = compliance.LintInput(text="x", html=html, channel="email")
    assert not [f for f in compliance.lint(inp) if f.rule_id == "FU-LINE-BREAKS"]


BAD_LAYOUTS = {
    "FU-HTML-CENTER": '<div style="text-align: center">{{ body }}</div>',
    "FU-HTML-FONT": '<div style="font-family: Comic Sans MS">{{ body }}</div>',
    "FU-HTML-FONT-SIZES": (
        '<h1>{{ subject }}</h1><p style="font-size:18px">a</p><p style="font-size:12px">b</p>'
        '<p style="font-size:10px">{{ body }}</p>'
    ),
    "FU-IMG-INSECURE": '<img src="http://logo.example.com/l.png" width="20%">{{ body }}',
    "FU-IMG-WIDTH": '<img src="https://cdn.example.com/l.png" width="90%">{{ body }}',
    "FU-IMG-TRACKING": '{{ body }}<img src="https://t.example.com/p.png" width="1" height="1">',
    "FU-HTML-MARGIN": '<div style="margin: 0 25%">{{ body }}</div>',
    "FU-LINK-EXTERNAL": '{{ body }}<p><a href="https://shop.example.com">Our shop</a></p>',
    "FU-MARKETING": "{{ body }}<p>Follow us for special offers</p>",
    "FU-THEME-BODY": "<p>{{ subject }}</p>",
    "FU-THEME-SLOT": "{{ body }}<p>{{ seller_name }}</p>",
    "FU-THEME-ACTIVE": "{{ body }}<script>alert(1)</script>",
}


@pytest.mark.parametrize("rule_id", sorted(BAD_LAYOUTS))
def test_seller_theme_breaking_a_rule_is_refused_with_the_finding(engine, rule_id):
    with pytest.raises(themes.ThemeRefused) as refused:
        themes.save_seller_theme("Bad", BAD_LAYOUTS[rule_id], user="alice")
    assert rule_id in {f.rule_id for f in refused.value.findings}
    assert all(f.explanation and f.severity == "error" for f in refused.value.findings)
    assert EmailTheme.select().count() == 0


def test_compliant_seller_theme_is_saved_listed_and_updated(engine):
    layout = '<div style="border-left: 4px solid #0a7; padding-left: 10px">{{ body }}</div>'
    row = themes.save_seller_theme("Green line", layout, user="alice")
    assert row.key == "custom-green-line"
    assert [t.key for t in themes.all_themes()][-1] == "custom-green-line"
    assert themes.get_theme("custom-green-line").shipped is False
    again = themes.save_seller_theme("Green line", layout)  # same name: a second theme
    assert again.key == "custom-green-line-2"
    with pytest.raises(themes.ThemeRefused):
        themes.save_seller_theme("Green line", "<center>{{ body }}</center>", key=row.key)
    assert EmailTheme.get(EmailTheme.key == row.key).layout == layout  # refused: unchanged
    themes.save_seller_theme("Green line v2", layout.replace("4px", "2px"), key=row.key)
    assert "2px" in themes.get_theme(row.key).layout
    assert AuditLog.select().where(AuditLog.action == "theme_saved").count() == 3


def test_html_for_unknown_or_no_theme_is_plain_text_only(engine):
    assert themes.html_for("", "text") == ""
    assert themes.html_for("custom-deleted", "text") == ""
    assert "<p>text</p>" in themes.html_for("plain", "text")


def _themed_template(theme: str) -> Template:
    template = Template.create(name="Manual", channel="email", message_type="product_instructions")
    version = save_version(template, {"en": {"subject": "Manual {{ order_id }}", "body": BODY}})
    TemplateVersion.update(theme=theme).where(TemplateVersion.id == version.id).execute()
    return template


def test_themed_email_is_sent_with_the_layout_around_the_text(make_email_engine, smtp, account):
    engine = make_email_engine(smtp)
    order = new_order(engine, account)
    message = new_message(order)
    message.step.template = _themed_template("brand_bar")
    message.step.save()
    composed = compose(engine, order, message.step, message)
    assert "border-top: 6px solid #1f5fbf" in composed.rendered.html
    assert f"here is the manual for your order {order.order_id}:<br>" in composed.rendered.html
    assert "Shop &amp; Co" in composed.rendered.html
    result = engine.sender("email").send(engine, message, order, composed.rendered)
    assert result.status == "sent"
    mail = received_mail(smtp)
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "border-top: 6px solid #1f5fbf" in html and order.order_id in html
    assert "Shop & Co" in text and "<p>" not in text


def test_unthemed_email_stays_plain_text(make_email_engine, smtp, account):
    engine = make_email_engine(smtp)
    order = new_order(engine, account)
    message = new_message(order)
    message.step.template = _themed_template("")
    message.step.save()
    composed = compose(engine, order, message.step, message)
    assert composed.rendered.html == ""


def test_migration_adds_the_theme_column_to_an_older_database(engine):
    _upgrade_from_0005(engine)


@pytest.mark.postgres
def test_migration_adds_the_theme_column_on_postgresql(make_engine, pg_url):
    _upgrade_from_0005(make_engine(database={"url": pg_url}))


def _upgrade_from_0005(engine):
    table = TemplateVersion._meta.table_name
    engine.db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "theme"')
    engine.db.execute_sql('DROP TABLE "email_theme"')
    engine.db.execute_sql("DELETE FROM schema_migrations WHERE version = 6")
    assert engine.migrate() == ["0006_email_themes"]
    assert "theme" in {c.name for c in engine.db.get_columns(table)}
    template = _themed_template("boxed")
    assert TemplateVersion.get(TemplateVersion.template == template).theme == "boxed"
    themes.save_seller_theme("After upgrade", "<div>{{ body }}</div>")
    assert engine.migrate() == []
