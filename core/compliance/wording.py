"""Wording rules: what a message says (review asks, incentives, marketing, purpose).

Patterns match English, German, French, Italian, Spanish and Japanese phrasings whatever
the declared language, because a text in the wrong language is the one most likely to
slip through."""

from __future__ import annotations

import re

from .base import FIELDS, GUIDE, Finding, LintInput, _fields, _finding, _words
from .markup import PLACEHOLDER

# --- wording lists, by language (en, de, fr, it, es, ja) ------------------------------
REVIEW_ASK = _words(
    r"reviews?|feedback|rating",
    r"bewertung(?:en)?|rezension(?:en)?|bewerten",
    r"avis|évaluation|évaluer|commentaire",
    r"recensione|recensioni|valutazione|recensire",
    r"reseña|reseñas|opinión|valoración|valorar",
    r"レビュー|評価|口コミ",
)
INCENTIVE = _words(
    r"refunds?|reimburse\w*|money back|cash ?back|gift cards?"
    r"|free (?:product|gift|sample|item|unit)s?"
    r"|giveaways?|prize|(?:prize|lucky) draw|raffle|sweepstakes?|in exchange for|rewards?"
    r"|discounts?|coupons?|vouchers?",
    r"erstatt\w*|rückerstattung|geld zurück|geschenk\w*|gratis|kostenlose?s? produkt"
    r"|gewinnspiel|verlosung|belohnung|gutschein\w*|rabatt\w*|im austausch",
    r"rembours\w*|cadeaux?|gratuite?s?|tirage au sort|concours|récompenses?|en échange|réduction",
    r"rimbors\w*|regal[oi]|omaggio|gratuit[oa]|estrazione|concorso|premio|in cambio|sconto",
    r"reembols\w*|regalos?|gratis|sorteo|recompensas?|a cambio|descuento|cupón",
    r"返金|プレゼント|無料|割引|クーポン|抽選|キャッシュバック|特典|ギフト券|お礼に",
)
MARKETING = _words(
    r"coupons?|promo(?:tion(?:al)?)? codes?|discount codes?|vouchers?|\d+ ?% off|special offers?"
    r"|on sale|our (?:other|new|latest) products|visit our (?:store|shop)|check out our"
    r"|follow us|newsletter",
    r"gutschein\w*|rabatt\w*|sonderangebot\w*|unsere(?:n|r)? (?:anderen|weiteren|neuen) produkte"
    r"|besuchen sie unseren shop|folgen sie uns",
    r"codes? promo|bons? de réduction|réductions?|promotions?|nos autres produits|nouveautés"
    r"|suivez-nous",
    r"codic[ei] sconto|sconti|promozion[ei]|offerte? special[ei]|nostri altri prodotti|seguici",
    r"cupón|cupones|códigos? de descuento|descuentos?|promoci[oó]n(?:es)?|ofertas? especial(?:es)?"
    r"|nuestros otros productos|síguenos",
    r"クーポン|割引|セール|キャンペーン|他の商品|新商品|プロモーション",
)
REVIEW_POSITIVE = _words(
    r"(?:[1-5]|one|two|three|four|five|fünf|cinq|cinque|cinco)[ -]?(?:stars?|sterne?n?|étoiles?"
    r"|stelle|estrellas?)",
    r"positive (?:review|feedback|rating)s?|good review|great review|glowing review",
    r"positive bewertung(?:en)?|gute bewertung(?:en)?|positive rezension",
    r"avis positifs?|bon avis|évaluation positive",
    r"recensione positiva|buona recensione|valutazione positiva",
    r"reseñas? positivas?|buena reseña|valoración positiva|opinión positiva",
    r"if you (?:are|were|'re|feel) (?:satisfied|happy|pleased)"
    r"|if you (?:liked|love|loved|enjoy(?:ed)?)",
    r"(?:nur )?(?:wenn|falls) sie (?:mit \w+ \w+ )?zufrieden",
    r"si vous (?:êtes|étiez) satisfaite?s?|si vous avez aimé",
    r"se (?:sei|è|siete) soddisfatt[oaie]|se (?:le|ti) è piaciuto",
    r"si (?:está|estás|quedó) satisfech[oa]|si le ha gustado|si te ha gustado",
    r"5つ星|星5|星５|★5|高評価|良いレビュー|ご満足いただけ(?:た|まし)",
)
REVIEW_CHANGE = _words(
    r"(?:change|remove|delete|update|revise|edit|amend|withdraw|take down|reconsider)"
    r" (?:your|the|a|that|this)(?: negative| bad)? (?:review|feedback|rating)",
    r"bewertung (?:zu )?(?:ändern|löschen|entfernen|zurückziehen|anpassen|überdenken)",
    r"(?:modifier|supprimer|retirer|changer) (?:votre|l'|cet|ce) ?(?:avis|évaluation|commentaire)",
    r"(?:modificare|rimuovere|cancellare|eliminare) (?:la sua |la tua |la )?"
    r"(?:recensione|valutazione)",
    r"(?:cambiar|modificar|eliminar|borrar|retirar) (?:su |tu |la )?(?:reseña|opinión|valoración)",
    r"(?:レビュー|評価)を?(?:変更|削除|修正|取り下げ)",
)
OPT_OUT = _words(
    r"unsubscribe|opt[ -]?out|stop receiving",
    r"abmelden|abbestellen|keine (?:weiteren )?(?:e-mails|nachrichten)",
    r"désinscri\w*|désabonn\w*|ne plus recevoir",
    r"disiscriv\w*|annullare l'iscrizione|non ricevere più",
    r"darse de baja|darte de baja|cancelar (?:la )?suscripción|dejar de recibir",
    r"配信停止|購読解除|配信を停止",
)
THANKS = _words(r"thanks?|thank you|danke\w*|merci|grazie|gracias|ありがとう|感謝")
CONTACT = _words(
    r"contact us|let us know|reach out|get in touch|write to us",
    r"kontaktieren|melden sie sich|lassen sie es uns wissen|schreiben sie uns",
    r"contactez|n'hésitez pas|écrivez-nous",
    r"contattar\w*|fateci sapere|ci scriva|scriveteci",
    r"contáctenos|contacta\w*|póngase en contacto|escríbanos",
    r"お問い合わせ|ご連絡|ご相談",
)
CONFIRMATION = _words(
    r"(?:has|have) (?:now )?(?:been )?(?:shipped|dispatched|delivered|confirmed|refunded)"
    r"|is on (?:its|the) way|was (?:shipped|delivered)|refund has been",
    r"(?:wurde|ist) (?:\w+ )?(?:versandt|verschickt|zugestellt|geliefert|bestätigt|erstattet)"
    r"|ist unterwegs",
    r"a été (?:expédiée?|livrée?|confirmée?|remboursée?)|est en route|est en chemin",
    r"è stat[oa] (?:spedit[oa]|consegnat[oa]|confermat[oa]|rimborsat[oa])|è in viaggio",
    r"ha sido (?:enviad[oa]|entregad[oa]|confirmad[oa]|reembolsad[oa])|está en camino",
    r"発送(?:しました|いたしました|されました)|お届けしました|配達(?:され|し)ました|確認(?:しました|いたしました)",
)
NEUTRAL = _words(
    r"hello|hi|dear|best regards|kind regards|regards|sincerely|best wishes",
    r"hallo|guten tag|mit freundlichen grüßen|viele grüße|beste grüße",
    r"bonjour|cordialement|bien à vous|salutations",
    r"ciao|buongiorno|cordiali saluti|distinti saluti",
    r"hola|saludos|atentamente|un saludo",
    r"こんにちは|よろしくお願い|敬具",
)


def _sentences(text: str):
    for m in re.finditer(r"[^.!?。！？\n]+", text):
        if m.group(0).strip():
            yield m


def _short(sentence: str, words: int) -> bool:
    if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", sentence):
        return len(sentence.strip()) <= words * 3
    return len(sentence.split()) <= words


def _purpose(inp: LintInput):
    """Messages whose every sentence only thanks, offers contact or confirms are prohibited."""
    text = PLACEHOLDER.sub(" x ", inp.text or "")
    kinds: set[str] = set()
    for m in _sentences(text):
        s = m.group(0)
        if CONFIRMATION.search(s) and _short(s, 16):
            kinds.add("confirmation")
        elif (THANKS.search(s) or CONTACT.search(s)) and _short(s, 14):
            kinds.add("thanks")
        elif NEUTRAL.search(s) and _short(s, 5) or _short(s, 3):
            continue
        else:
            return  # a sentence with a real purpose
    if "confirmation" in kinds:
        yield Finding(
            "FU-CONFIRMATION-ONLY",
            "error",
            0,
            len(inp.text),
            inp.text[:80],
            "Order, shipping, delivery or refund confirmations are prohibited: Amazon "
            "already sends them. Add the permitted purpose of the message.",
            f"{GUIDE}: prohibited — order, shipping, delivery or refund confirmations",
        )
    elif "thanks" in kinds:
        yield Finding(
            "FU-THANKS-ONLY",
            "error",
            0,
            len(inp.text),
            inp.text[:80],
            "A message that only says thank you or 'contact us if there is a problem' is "
            "prohibited. Add the permitted purpose of the message.",
            f"{GUIDE}: prohibited — thank-you-only messages",
        )


def _second_review(inp: LintInput):
    if not inp.sequence_has_review_request:
        return
    for name, value in _fields(inp, FIELDS):
        m = REVIEW_ASK.search(value)
        if m:
            yield _finding(
                "FU-REVIEW-TWICE",
                "error",
                m,
                value,
                "This sequence already requests a review; Amazon allows one review request "
                "per order (Request a Review counts too).",
                f"{GUIDE}: prohibited — more than one review request per order",
                name,
            )
            return


def _is_review_request(inp: LintInput) -> bool:
    return inp.message_type == "review_request" or any(
        REVIEW_ASK.search(v) for _, v in _fields(inp, FIELDS)
    )
