"""Wording rules: what a message says (review asks, incentives, marketing, purpose).

Patterns match English, German, French, Italian, Spanish and Japanese phrasings whatever
the declared language, because a text in the wrong language is the one most likely to
slip through."""

from __future__ import annotations

import re

from .base import FIELDS, GUIDE, Finding, LintInput, _fields, _finding, _words
from .markup import ORDER_ID, PLACEHOLDER
from .reviews import REVIEW_ASK

# --- wording lists, by language (en, de, fr, it, es, ja) ------------------------------
INCENTIVE = _words(
    r"refunds?|reimburse\w*|money back|cash ?back|gift cards?"
    r"|(?<!feel )free(?! to)|for free|free of charge"
    r"|giveaways?|prize|(?:prize|lucky) draw|raffle|sweepstakes?|in exchange for|rewards?"
    r"|discounts?|coupons?|vouchers?"
    r"|(?:prize|lucky|monthly|weekly) draws?|(?:enter|entered|entry) (?:into )?(?:our|the|a) draw"
    r"|lottery|lotteries|raffles?|(?:chance|chances) (?:to|of) win\w*|to win|win an?"
    r"|as a thank[- ]you|in return|\d+ ?% off|bonus|screenshots?|half price|half off"
    r"|lucky (?:buyer|winner|customer|reviewer)s?",
    r"erstatt\w*|rückerstattung|geld zurück|geschenk\w*|gratis|kostenlos\w*"
    r"|gewinnspiel\w*|verlos\w*|auslosung|lotterie|tombola|gewinnen|belohnung|gutschein\w*"
    r"|rabatt\w*|im austausch|als dankeschön|zum dank|\d+ ?% (?:rabatt|nachlass)|bonus|screenshot"
    r"|halben preis|zum halben",
    r"rembours\w*|cadeaux?|gratuite?s?|offerte?s?|jeu concours|lots? à gagner|tirage\w*"
    r"|loterie|concours|gagner|récompenses?|capture d'écran|capture|moitié prix"
    r"|en échange|réduction|pour vous remercier|en remerciement|offrons|\d+ ?% de remise",
    r"rimbors\w*|regal\w*|omaggio|gratuit[oa]|estrazion[ei]|sorteggio|lotteria|concorso|vincere"
    r"|premio|premi|in omaggio|in cambio|sconto|per ringraziarl\w*|screenshot|metà prezzo"
    r"|\d+ ?% di sconto",
    r"reembols\w*|regal\w*|gratis|sorteo\w*|lotería|rifa|ganar|recompensas?|a cambio|descuento"
    r"|cupón|le devolvemos|para agradecer\w*|en agradecimiento|concurso|premios?|gratuit[oa]s?"
    r"|captura|mitad de precio",
    r"返金|プレゼント|無料|割引|クーポン|抽選|当たる|当たり|当選|応募|くじ|懸賞|キャッシュバック|特典"
    r"|ギフト券"
    r"|お礼に|お礼として|ポイント|差し上げ|スクリーンショット|半額",
)
MARKETING = _words(
    r"coupons?|promo(?:tion(?:al)?)? codes?|discount codes?|vouchers?|\d+ ?% off|special offers?"
    r"|on sale|our (?:other|new|latest) products|visit our (?:store|shop)|check out our"
    r"|follow us|newsletter|(?:prize|lucky|monthly|weekly) draw|sweepstakes?|raffle|lottery"
    r"|(?:in|from|at|visit) our (?:store|shop|storefront|brand store|website)"
    r"|mailing list|sign up for|new arrivals"
    r"|giveaway"
    r"|(?:now |currently )?on (?:special )?offer|two for (?:the price of )?one"
    r"|for the price of one",
    r"gutschein\w*|rabatt\w*|sonderangebot\w*|unsere(?:n|r)? (?:anderen|weiteren|neuen) produkte"
    r"|besuchen sie unseren shop|folgen sie uns|entdecken sie (?:auch )?unsere|gewinnspiel\w*"
    r"|verlosung|in unserem (?:shop|store|online-shop)",
    r"codes? promo|bons? de réduction|réductions?|promotions?|nos autres produits|nouveautés"
    r"|suivez-nous|en promotion|dans notre boutique|découvrez (?:aussi |également )?nos"
    r"|tirage au sort|loterie",
    r"codic[ei] sconto|sconti|promozion[ei]|in offerta|offerte? special[ei]|nostri altri prodotti"
    r"|seguici|nel nostro negozio|scopra (?:anche )?i nostri|lotteria"
    r"|(?:estrazione|concorso) a premi",
    r"cupón|cupones|códigos? de descuento|descuentos?|promoci[oó]n(?:es)?|ofertas? especial(?:es)?"
    r"|nuestros otros productos|síguenos|en nuestra tienda|descubra (?:también )?nuestros"
    r"|sorteo|lotería",
    r"クーポン|割引|セール|キャンペーン|他の商品|新商品|プロモーション|\d+ ?[%％]オフ|抽選",
)
REVIEW_POSITIVE = _words(
    r"(?:[1-5]|one|two|three|four|five|fünf|cinq|cinque|cinco)[ -]?(?:stars?|sterne?n?|étoiles?"
    r"|stelle|estrellas?)",
    r"positive (?:review|feedback|rating)s?|good review|great review|glowing",
    r"positive bewertung(?:en)?|gute bewertung(?:en)?|positive rezension",
    r"avis positifs?|bon avis|évaluation positive",
    r"recensione positiva|buona recensione|valutazione positiva",
    r"reseñas? positivas?|buena reseña|valoración positiva|opinión positiva",
    r"top rating|full marks|highest rating|best rating|top marks",
    r"top-bewertung(?:en)?|bestnote|beste bewertung",
    r"excellente note|meilleure note|note maximale",
    r"voto massimo|valutazione massima|il massimo dei voti",
    r"valoración excelente|máxima puntuación|puntuación máxima|valoración máxima",
    r"5つ星|星5|星５|★5|[1-5] ?★|★{3,}|高評価|良いレビュー|良い評価|最高評価|満点",
)
OPT_OUT = _words(
    r"unsubscribe|opt[ -]?out|stop receiving|no longer (?:wish|want) to (?:receive|hear)"
    r"|remove you from (?:our|the|this) (?:list|mailing)|(?:don't|do not) want these"
    r"|(?:don't|do not) want (?:to receive )?(?:any )?(?:more|further) (?:messages|emails)",
    r"abmelden|abbestellen|keine (?:weiteren )?(?:e-mails|nachrichten)|nicht mehr erhalten",
    r"désinscri\w*|désabonn\w*|ne plus recevoir|ne (?:souhaitez|voulez) plus recevoir",
    r"disiscriv\w*|annullare l'iscrizione|non ricevere più|non (?:desidera|vuole) più ricevere",
    r"darse de baja|darte de baja|cancelar (?:la )?suscripción|dejar de recibir"
    r"|no (?:quiere|desea) recibir más",
    r"配信停止|購読解除|配信を停止|受信を停止",
)
THANKS = _words(
    r"thanks?|thank you|danke\w*|bedank\w*|merci|remerci\w*|grazie|ringrazi\w*|gracias"
    r"|agradec\w*",
    r"ありがとう|感謝|お礼",
)
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
    r"発送(?:しました|いたしました|されました)|お届けしました|配達(?:され|し)ました|確認(?:しました|いたしました)"
    r"|お届け予定|到着予定",
)
# Courtesy that carries no purpose: a message made only of these (and thanks, or an offer
# to help) is a thank-you-only message even without the word "thank".
POLITE = _words(
    r"appreciate\w*|grateful|pleasure|thrilled|hope you(?:'ll)? (?:enjoy|like|love)"
    r"|enjoy (?:your|the)"
    r"|we value|valued customer|look(?:ing)? forward|have a (?:great|nice|wonderful|lovely)"
    r" (?:day|week|weekend)|glad|delighted|happy to have you|welcome back|serving you again"
    r"|cho(?:se|osing) us|shopp(?:ed|ing) with us|value your (?:custom|business|trust|support)"
    r"|means (?:a lot|so much)|wishing you|take care|all the best|lovely (?:day|week)|we hope"
    r"|cheers|customers like you|keep us going|motivates? us",
    r"schätzen|freuen uns|freude|viel spaß|wünschen ihnen|schönen tag|dankbar|vertrauen"
    r"|wieder begrüßen|schön, dass|für uns entschieden|gute zeit|alles gute|wünscht"
    r"|wir hoffen|kunden wie sie|lohnenswert|motivier\w*|freut uns|bei uns (?:eingekauft|bestellt)",
    r"apprécions|plaisir|profiter\w*|profitiez|espérons vous|souhaitons|heureux|ravis|bonne journée"
    r"|excellente journée|confiance|vous revoir|reconnaissants|nous avoir choisis|nous ayez choisis"
    r"|belle (?:semaine|journée)|bonne (?:semaine|continuation)|nous espérons|clients comme vous"
    r"|motivent",
    r"apprezziamo|piacere|goda|godersi|auguriamo|felici|lieti|buona giornata|fiducia|rivederla"
    r"|grati|(?:ci )?abbia scelt[oi]|buona settimana|speriamo|clienti come lei|motivano",
    r"valoramos|placer|disfrute|deseamos|alegra|buen día|confianza|volver a verle|agradecidos"
    r"|nos encanta que|(?:nos )?haya elegido|que tenga un[ao]? (?:buen[ao]?|gran|feliz|semana)"
    r"|esperamos|clientes como usted|motivan",
    r"光栄|お楽しみ|お待ちしております|お過ごしください|今後とも|またのご利用|誠に|幸いです|お越し"
    r"|ますように|申し上げます|励み|のような方",
)
NEUTRAL = _words(
    r"hello|hi|dear|best regards|kind regards|regards|sincerely|best wishes|dear customer"
    r"|(?:hello|greetings) from",
    r"hallo|guten tag|mit freundlichen grüßen|viele grüße|beste grüße|herzliche grüße|liebe kundin"
    r"|lieber kunde|sehr geehrte",
    r"bonjour|cordialement|bien à vous|salutations|chère cliente|cher client",
    r"ciao|buongiorno|cordiali saluti|distinti saluti|un caro saluto|gentile cliente",
    r"hola|saludos|atentamente|un saludo|un abrazo|estimad[oa] cliente",
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
    text = ORDER_ID.sub("x", PLACEHOLDER.sub(" x ", inp.text or ""))
    kinds: set[str] = set()
    for m in _sentences(text):
        s = m.group(0)
        if REVIEW_ASK.search(s):
            return  # a review request is a permitted purpose (other rules judge its wording)
        if CONFIRMATION.search(s) and _short(s, 16):
            kinds.add("confirmation")
        elif (THANKS.search(s) or CONTACT.search(s) or POLITE.search(s)) and _short(s, 18):
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
