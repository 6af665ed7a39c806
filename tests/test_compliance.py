"""The guideline linter: every rule fires on a violation and stays quiet on a compliant text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.compliance import BUILTIN_CHECKS, RULE_IDS, ContentCheck, LintInput, has_errors, lint

OID = "305-1234567-7654321"
GOOD = f"Order {OID}: here is how to set up your lamp. Tilt the head before tightening the screw."
GOOD_HTML = f"<p>Order {OID}: here is how to set up your lamp.</p>"


def ids(inp):
    return {f.rule_id for f in lint(inp)}


# rule id -> (violating input, compliant input)
CASES = {
    "FU-LINK-EXTERNAL": (
        LintInput(GOOD + " See https://shop.example.com/lamp"),
        LintInput(
            GOOD + " Invoice: https://inv.example.com/1.pdf",
            allowed_links=("https://inv.example.com/",),
        ),
    ),
    "FU-LINK-SHORTENER": (LintInput(GOOD + " bit.ly/abc"), LintInput(GOOD)),
    "FU-EMAIL": (LintInput(GOOD + " Write to help@example.com."), LintInput(GOOD)),
    "FU-PHONE": (
        LintInput(GOOD + " Call +49 30 12345678."),
        LintInput(GOOD + " Delivered 2026-11-20."),
    ),
    "FU-EMOJI": (LintInput(GOOD + " 😀"), LintInput(GOOD)),
    "FU-IMG-TRACKING": (
        LintInput(
            GOOD,
            channel="email",
            html=GOOD_HTML + '<img src="https://t.example.com/p.png" width="1" height="1">',
        ),
        LintInput(
            GOOD,
            channel="email",
            html=GOOD_HTML + '<img src="https://cdn.example.com/a.png" width="50%">',
        ),
    ),
    "FU-IMG-INSECURE": (
        LintInput(
            GOOD, channel="email", html=GOOD_HTML + '<img src="http://cdn.example.com/a.png">'
        ),
        LintInput(
            GOOD, channel="email", html=GOOD_HTML + '<img src="https://cdn.example.com/a.png">'
        ),
    ),
    "FU-GIF": (
        LintInput(
            GOOD, channel="email", html=GOOD_HTML + '<img src="https://cdn.example.com/a.gif">'
        ),
        LintInput(
            GOOD, channel="email", html=GOOD_HTML + '<img src="https://cdn.example.com/a.jpg">'
        ),
    ),
    "FU-IMG-WIDTH": (
        LintInput(
            GOOD,
            channel="email",
            html=GOOD_HTML + '<img src="https://c.example.com/a.png" width="100%">',
        ),
        LintInput(
            GOOD,
            channel="email",
            html=GOOD_HTML + '<img src="https://c.example.com/a.png" width="80%">',
        ),
    ),
    "FU-OPT-OUT": (LintInput(GOOD + " Click here to unsubscribe."), LintInput(GOOD)),
    "FU-MARKETING": (
        LintInput(GOOD + " Use coupon SAVE10 on our other products."),
        LintInput(GOOD),
    ),
    "FU-INCENTIVE": (
        LintInput(GOOD + " Leave a review and get a free gift.", message_type="review_request"),
        LintInput(GOOD + " We would appreciate an honest review.", message_type="review_request"),
    ),
    "FU-REVIEW-POSITIVE": (
        LintInput(GOOD + " Please leave a 5-star review."),
        LintInput(GOOD + " Please leave an honest review."),
    ),
    "FU-REVIEW-GATING": (
        LintInput(GOOD + " If you are happy with the lamp, please leave a review."),
        LintInput(GOOD + " Whether you loved the lamp or not, please leave an honest review."),
    ),
    "FU-REVIEW-CHANGE": (
        LintInput(GOOD + " Please remove your negative review."),
        LintInput(GOOD + " Your review helped: we changed the screw."),
    ),
    "FU-REVIEW-TWICE": (
        LintInput(GOOD + " Please share an honest review.", sequence_has_review_request=True),
        LintInput(GOOD, sequence_has_review_request=True),
    ),
    "FU-THANKS-ONLY": (
        LintInput(
            f"Hello,\n\nthank you for your order {OID}! "
            "Contact us if there is a problem.\n\nBest regards"
        ),
        LintInput(
            f"Thank you for your order {OID}. Here is how to set up your lamp: tilt the head first."
        ),
    ),
    "FU-CONFIRMATION-ONLY": (
        LintInput(f"Hello, your order {OID} has been shipped."),
        LintInput(GOOD),
    ),
    "FU-ORDER-ID-MISSING": (LintInput("Here is how to set up your lamp."), LintInput(GOOD)),
    "FU-LINE-BREAKS": (LintInput(GOOD + "\n\n\nBye"), LintInput(GOOD + "\n\nBye")),
    "FU-HTML-CENTER": (
        LintInput(GOOD, channel="email", html='<p style="text-align: center">' + GOOD + "</p>"),
        LintInput(GOOD, channel="email", html=GOOD_HTML),
    ),
    "FU-HTML-FONT-SIZES": (
        LintInput(
            GOOD,
            channel="email",
            html="".join(f'<span style="font-size:{n}px">a</span>' for n in (10, 12, 14, 16)),
        ),
        LintInput(
            GOOD,
            channel="email",
            html="".join(f'<span style="font-size:{n}px">a</span>' for n in (10, 12, 14, 12)),
        ),
    ),
    "FU-HTML-FONT": (
        LintInput(GOOD, channel="email", html='<p style="font-family: Comic Sans">x</p>'),
        LintInput(GOOD, channel="email", html='<p style="background-color: #eee">x</p>'),
    ),
    "FU-HTML-MARGIN": (
        LintInput(GOOD, channel="email", html='<div style="margin-left: 30%">x</div>'),
        LintInput(GOOD, channel="email", html='<div style="margin-left: 10%">x</div>'),
    ),
    "FU-LENGTH": (
        LintInput(GOOD + " x" * 400, message_type="confirmCustomizationDetails"),
        LintInput(GOOD + " x" * 400, message_type="createConfirmDeliveryDetails"),
    ),
    "FU-SPELLING": (
        LintInput(f"Order {OID}: here is how to set up your lampp befor use."),
        LintInput(GOOD),
    ),
    "FU-LANG-MISMATCH": (LintInput(GOOD, language="de"), LintInput(GOOD, language="en")),
}


def test_every_builtin_rule_has_cases():
    assert set(CASES) == {c.rule_id for c in BUILTIN_CHECKS}
    assert "FU-INTERNAL" in RULE_IDS and len(set(RULE_IDS)) == len(RULE_IDS)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_flags_violation_and_passes_compliant_text(rule_id):
    bad, good = CASES[rule_id]
    found = [f for f in lint(bad) if f.rule_id == rule_id]
    assert found, f"{rule_id} missed a violation"
    assert rule_id not in ids(good), f"{rule_id} flagged a compliant text"
    check = next(c for c in BUILTIN_CHECKS if c.rule_id == rule_id)
    assert all(f.severity == check.severity for f in found)
    for f in found:
        text = getattr(bad, f.field)
        assert 0 <= f.start <= f.end <= len(text)
        assert text[f.start : f.end].startswith(f.excerpt)
        assert f.explanation and f.source


def test_compliant_text_has_no_findings():
    assert lint(LintInput(GOOD)) == []


def test_spans_point_at_offending_text():
    text = GOOD + " Write to help@example.com or see https://x.example.com now."
    by_id = {f.rule_id: f for f in lint(LintInput(text))}
    assert text[by_id["FU-EMAIL"].start : by_id["FU-EMAIL"].end] == "help@example.com"
    assert (
        text[by_id["FU-LINK-EXTERNAL"].start : by_id["FU-LINK-EXTERNAL"].end]
        == "https://x.example.com"
    )
    subject = f"Your order {OID} - 50% off with coupon"
    (f,) = [f for f in lint(LintInput(GOOD, subject=subject)) if f.rule_id == "FU-MARKETING"][:1]
    assert f.field == "subject" and subject[f.start : f.end].lower() in ("50% off", "coupon")


@pytest.mark.parametrize(
    "rule_id, language, text",
    [
        ("FU-REVIEW-POSITIVE", "de", "Bitte geben Sie uns 5 Sterne."),
        ("FU-REVIEW-GATING", "de", "Bitte bewerten Sie uns nur wenn Sie zufrieden sind."),
        ("FU-REVIEW-POSITIVE", "fr", "Laissez-nous cinq étoiles, merci."),
        ("FU-REVIEW-POSITIVE", "it", "Lasci una recensione positiva."),
        ("FU-REVIEW-GATING", "es", "Si está satisfecho, deje una reseña."),
        ("FU-REVIEW-GATING", "fr", "Si le produit vous a plu, laissez-nous un avis."),
        ("FU-REVIEW-GATING", "it", "Se è rimasto soddisfatto, lasci una recensione."),
        ("FU-REVIEW-GATING", "ja", "ご満足いただけましたら、レビューをお願いします。"),
        ("FU-REVIEW-GATING", "en", "If it is wrong, contact us instead of leaving a review."),
        ("FU-REVIEW-CHANGE", "de", "Löschen Sie bitte Ihre Rezension."),
        ("FU-REVIEW-CHANGE", "de", "Ihre Bewertung würden Sie vielleicht noch einmal anpassen?"),
        ("FU-REVIEW-CHANGE", "it", "Potrebbe aggiornare la sua recensione?"),
        ("FU-INCENTIVE", "en", "Every review enters our monthly prize draw."),
        ("FU-INCENTIVE", "de", "Unter allen Bewertungen verlosen wir ein Tablet."),
        ("FU-INCENTIVE", "fr", "Chaque avis participe au tirage au sort."),
        ("FU-INCENTIVE", "es", "Cada reseña entra en el sorteo de una tableta."),
        ("FU-INCENTIVE", "ja", "レビューを書いた方の中から抽選でギフト券が当たります。"),
        ("FU-THANKS-ONLY", "en", f"We appreciate your business! Order {OID}."),
        ("FU-THANKS-ONLY", "de", f"Wir wünschen Ihnen viel Freude mit Ihrem Einkauf {OID}."),
        ("FU-THANKS-ONLY", "fr", f"Nous apprécions votre confiance ({OID})."),
        ("FU-REVIEW-POSITIVE", "ja", "5つ星のレビューをお願いします。"),
        ("FU-MARKETING", "de", "Mit diesem Gutschein sparen Sie bei Ihrem nächsten Kauf."),
        ("FU-MARKETING", "ja", "次回使えるクーポンをお送りします。"),
        ("FU-MARKETING", "fr", "Découvrez nos autres produits avec un code promo."),
        ("FU-INCENTIVE", "it", "Lasci una recensione e riceverà un rimborso."),
        ("FU-INCENTIVE", "es", "Deje una reseña y le damos un reembolso."),
        ("FU-INCENTIVE", "de", "Für Ihre Bewertung erhalten Sie ein Geschenk."),
        ("FU-INCENTIVE", "ja", "レビューを書いていただいた方に返金いたします。"),
        ("FU-REVIEW-CHANGE", "de", "Könnten Sie Ihre Bewertung ändern?"),
        ("FU-REVIEW-CHANGE", "fr", "Pourriez-vous modifier votre avis ?"),
        ("FU-REVIEW-CHANGE", "es", "¿Podría eliminar su reseña?"),
        ("FU-REVIEW-CHANGE", "ja", "レビューを削除していただけますか。"),
        ("FU-OPT-OUT", "de", "Hier können Sie sich abmelden."),
        ("FU-OPT-OUT", "fr", "Pour vous désinscrire, cliquez ici."),
        ("FU-OPT-OUT", "ja", "配信停止はこちら。"),
        ("FU-OPT-OUT", "es", "Para darse de baja, responda."),
        ("FU-CONFIRMATION-ONLY", "de", f"Ihre Bestellung {OID} wurde versandt."),
        ("FU-CONFIRMATION-ONLY", "ja", f"ご注文 {OID} の商品を発送しました。"),
        ("FU-THANKS-ONLY", "it", f"Grazie per il suo ordine {OID}!"),
        ("FU-THANKS-ONLY", "es", f"¡Gracias por su pedido {OID}!"),
    ],
)
def test_wording_rules_in_several_languages(rule_id, language, text):
    inp = LintInput(f"{text} {OID}", language=language)
    found = [f for f in lint(inp) if f.rule_id == rule_id]
    assert found and all(f.severity == "error" for f in found)


def test_phone_is_only_a_warning_in_warranty_messages():
    text = GOOD + " Manufacturer hotline: +49 30 12345678."
    (phone,) = [
        f for f in lint(LintInput(text, message_type="createWarranty")) if f.rule_id == "FU-PHONE"
    ]
    assert phone.severity == "warning"
    assert has_errors(lint(LintInput(text)))


def test_template_source_counts_order_id_placeholder_and_skips_length():
    src = "Order {{ order_id }}: here is how to set up your {{ product_title }}." + " x" * 1000
    found = ids(LintInput(src, is_template_source=True, message_type="createDigitalAccessKey"))
    assert "FU-ORDER-ID-MISSING" not in found and "FU-LENGTH" not in found
    assert "FU-ORDER-ID-MISSING" in ids(
        LintInput("Order {{ order_id }}: hi there, see the manual.")
    )


def test_rendered_message_must_contain_its_own_order_id():
    assert "FU-ORDER-ID-MISSING" in ids(LintInput(GOOD, order_id="111-1111111-1111111"))
    assert "FU-ORDER-ID-MISSING" not in ids(LintInput(GOOD, order_id=OID))


def test_max_length_overrides_the_message_type_limit():
    assert "FU-LENGTH" in ids(LintInput(GOOD, max_length=20))
    assert "FU-LENGTH" not in ids(
        LintInput(GOOD + " x" * 900, message_type="createUnexpectedProblem")
    )


def test_japanese_language_check():
    assert "FU-LANG-MISMATCH" not in ids(
        LintInput(f"ご注文 {OID} の取扱説明書をお送りします。", language="ja")
    )
    assert "FU-LANG-MISMATCH" in ids(LintInput(GOOD, language="ja"))


def test_a_check_that_raises_becomes_fu_internal():
    def broken(inp):
        raise RuntimeError("boom")

    checks = (*BUILTIN_CHECKS, ContentCheck("X-BROKEN", "error", broken, "broken", "test"))
    findings = lint(LintInput(GOOD), checks)
    (internal,) = [f for f in findings if f.rule_id == "FU-INTERNAL"]
    assert internal.severity == "error" and "X-BROKEN" in internal.explanation
    assert has_errors(findings)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=300),
    html=st.lists(
        st.sampled_from(
            list("<>=\"' %:;/abcimgsrcwidthp0123456789")
            + ["<img ", "src=", "http://", "font-size:", "margin:", "width="]
        ),
        max_size=40,
    ).map("".join),
    language=st.sampled_from(["en", "de", "fr", "it", "es", "ja", "pt", ""]),
    message_type=st.sampled_from(
        ["", "createWarranty", "review_request", "confirmCustomizationDetails"]
    ),
    template=st.booleans(),
)
def test_fuzz_lint_never_crashes(text, html, language, message_type, template):
    findings = lint(
        LintInput(
            text,
            html=html,
            language=language,
            message_type=message_type,
            is_template_source=template,
            sequence_has_review_request=True,
        )
    )
    assert not [f for f in findings if f.rule_id == "FU-INTERNAL"]
    for f in findings:
        assert (
            0 <= f.start <= f.end <= len(getattr(LintInput(text, html=html), f.field) or "")
            or f.rule_id == "FU-LENGTH"
        )
