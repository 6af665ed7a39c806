"""The shipped template library: complete, renderable and compliant in every language."""

import pytest

from core.compliance import LintInput, guess_language, has_errors, lint
from core.library import LANGUAGES, LINK_PLACEHOLDERS, PLACEHOLDER_EXAMPLES, load_library
from core.render import check_placeholders, render

LIBRARY = load_library()
VARIANTS = [(t, lang) for t in LIBRARY for lang in LANGUAGES]
# Links a plugin marks as needed to complete the order (review page, manual, invoice).
ALLOWED = tuple(PLACEHOLDER_EXAMPLES[k] for k in LINK_PLACEHOLDERS)


def test_library_has_the_expected_templates():
    keys = {t.key for t in LIBRARY}
    assert keys == {
        "review_request", "product_instructions", "customization", "delivery_scheduling",
        "invoice", "unexpected_problem", "warranty",
    }  # fmt: skip
    types = {t.key: (t.channel, t.message_type) for t in LIBRARY}
    assert types["review_request"] == ("email", "review_request")
    assert types["customization"] == ("messaging", "confirmCustomizationDetails")
    assert types["invoice"] == ("messaging", "sendInvoice")


@pytest.mark.parametrize("template", LIBRARY, ids=lambda t: t.key)
def test_every_template_has_all_languages(template):
    assert set(template.variants) == set(LANGUAGES)
    assert template.name and template.description
    for variant in template.variants.values():
        assert variant.body.strip()
        assert bool(variant.subject) == (template.channel == "email")


@pytest.mark.parametrize("template, lang", VARIANTS, ids=lambda v: getattr(v, "key", v))
def test_variant_renders_and_lints_without_errors(template, lang):
    variant = template.variants[lang]
    for source in (variant.subject, variant.body):
        assert check_placeholders(source, PLACEHOLDER_EXAMPLES) == []
    text = render(variant.body, PLACEHOLDER_EXAMPLES)
    subject = render(variant.subject, PLACEHOLDER_EXAMPLES)
    assert PLACEHOLDER_EXAMPLES["order_id"] in text
    common = dict(channel=template.channel, message_type=template.message_type, language=lang)
    rendered = lint(
        LintInput(text, subject=subject, order_id=PLACEHOLDER_EXAMPLES["order_id"],
                  allowed_links=ALLOWED, **common)
    )  # fmt: skip
    assert not has_errors(rendered), [(f.rule_id, f.excerpt) for f in rendered]
    assert not [f for f in rendered if f.rule_id in ("FU-SPELLING", "FU-LANG-MISMATCH")]
    source = lint(
        LintInput(variant.body, subject=variant.subject, is_template_source=True, **common)
    )
    assert not has_errors([f for f in source if f.rule_id != "FU-LINK-EXTERNAL"])


@pytest.mark.parametrize("template, lang", VARIANTS, ids=lambda v: getattr(v, "key", v))
def test_variant_is_written_in_its_language(template, lang):
    text = render(template.variants[lang].body, PLACEHOLDER_EXAMPLES)
    assert guess_language(text) == lang


def test_review_link_only_in_email_review_requests():
    for template in LIBRARY:
        for variant in template.variants.values():
            if "review_link" in variant.body:
                assert (template.channel, template.message_type) == ("email", "review_request")


def test_placeholder_examples_cover_the_allowed_placeholders():
    assert set(PLACEHOLDER_EXAMPLES) == {
        "order_id", "marketplace", "product_title", "products", "seller_name", "delivery_date",
        "review_link", "invoice_link", "manual_link", "contact_instruction",
    }  # fmt: skip
    assert {"title", "sku", "asin", "quantity"} <= set(PLACEHOLDER_EXAMPLES["products"][0])
