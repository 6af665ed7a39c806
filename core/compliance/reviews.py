"""Review manipulation judged sentence by sentence: gating and asking to change a review.

Single words cannot tell "if you are happy, leave a review" (gating) from "whether you
loved it or not, leave a review" (fine), nor "please update your review" from "your
feedback helped us update the manual". These rules look at what one sentence asks:
a condition on the buyer's satisfaction next to a review request, a change verb next to
the buyer's review. The rules and what blocks are in docs/linter.md.
"""

from __future__ import annotations

import re

from .base import GUIDE, LintInput, _fields, _finding, _words
from .markup import PLACEHOLDER

# A request for a review, rating or feedback, or for the buyer's experience to be shared
# where other buyers read it.
REVIEW_ASK = _words(
    r"reviews?|reviewing|reviewers?|feedback|ratings?|rate|star rating",
    r"(?:share|tell)\b[^.!?]{0,40}\bexperience|product page",
    r"\w*bewertung(?:en)?|\w*rezension(?:en)?|rezensent\w*|bewerten|erfahrung(?:en)? (?:zu )?teilen"
    r"|teilen sie (?:ihre|es)\b|produktseite",
    r"avis|évaluation|évaluer|notez|noter|commentaires?|page du produit"
    r"|partag\w* (?:votre|leur) expérience",
    r"recensione|recensioni|valutazione|valutare|valuti|recensire|opinione|pagina del prodotto"
    r"|condivid\w* (?:la sua|la loro) esperienza",
    r"reseñas?|opinión|valoración|valorar|valore|valórel[oa]|página del producto"
    r"|compart\w* su experiencia",
    r"レビュー|評価|口コミ|感想",
)

# --- review gating ----------------------------------------------------------------------
# The buyer being satisfied, in each language (stems: "satisf" covers satisfied/satisfait).
SATISFIED = (
    r"satisf\w*|happy|pleased|content(?:ed)?|enjoy\w*|lov(?:e|ed|ing)|lik(?:e|ed)|delighted"
    r"|impressed|expectations|(?:good|great|positive) experience"
    r"|zufrieden\w*|gefäll\w*|gefallen|gefiel|geschmeckt|begeistert|überzeugt|glücklich"
    r"|erwartungen"
    r"|satisf\w*|contente?s?|heureu(?:x|se)s?|plu|aimé\w*|ravie?s?|apprécié\w*|attentes"
    r"|soddisfatt\w*|content[oaie]|piaciut\w*|piace|felice|entusiast\w*|aspettative"
    r"|satisfech\w*|content[oa]s?|gustad[oa]|gusta|encant\w*|feliz|expectativas"
)
# "if", "should", "provided" ... in each language.
CONDITION = (
    r"if|when|should|provided|as long as|only if"
    r"|wenn|falls|sofern|sollten?|nur wenn"
    r"|si|s'il|quand|pourvu que"
    r"|se|qualora|purché"
    r"|si|en caso de que|cuando|siempre que"
)
NEGATION = (
    r"\b(?:not|n't|never|nicht|kein\w*|ne|pas|n'|non|no|nunca)\b"
    r"|\b(?:we|wir|nous|noi|nosotros)\b"  # the seller's own pleasure is no condition
)
# The satisfaction inside the conditional clause itself: no comma between, so "if you
# have a moment, we would be happy to read your review" is not a condition.
GATE = re.compile(
    rf"\b(?:{CONDITION})\b(?P<gap>[^.!?;,:]{{0,60}}?)\b(?:{SATISFIED})\b", re.IGNORECASE
)
# "Satisfied customers are invited to review": asking only one group of buyers.
SATISFIED_GROUP = _words(
    r"(?:satisfied|happy|pleased|delighted) (?:customers|buyers|clients)",
    r"zufriedene[nr]? (?:kunden|käufer\w*|kundinnen)",
    r"clients? (?:\w+ )?(?:satisfaits?|contents?|heureux|comblés|ravis)",
    r"clienti (?:\w+ )?(?:soddisfatti|contenti|felici)",
    r"clientes (?:\w+ )?(?:satisfechos|contentos|felices)",
    r"満足(?:の|された|した|いただいた|いただけた)(?:お客様|方)",
)
# "Customers who had a great experience": a group defined by its satisfaction.
GROUP_WHO = re.compile(
    rf"\b(?:customers|buyers|clients|kunden|käufer\w*|clienti|clientes)\b[^.!?]{{0,12}}"
    rf"\b(?:who|that|die|qui|che|que)\b(?P<gap>[^.!?]{{0,40}}?)\b(?:{SATISFIED})\b",
    re.IGNORECASE,
)
# A Japanese condition: "…ましたら", "…場合は", "…なら", attached to the satisfaction word.
GATE_JA = re.compile(
    r"(?:満足|気に入|お口に合|お気に召)[^。！？]{0,12}?(?:たら|れば|場合|なら|のであれば)"
)
# "Contact us before (instead of) leaving a review": diverting unhappy buyers from reviews.
DIVERT = _words(
    r"before|instead of|rather than",
    r"bevor|statt|anstatt|vor (?:der|einer) bewertung",
    r"avant de|avant d'|plutôt que|au lieu de",
    r"prima di|invece di|piuttosto che",
    r"antes de|en lugar de|en vez de",
    r"前に|代わりに",
)
CONTACT_FIRST = _words(
    r"contact|write to us|message us|let us know|reach out|get in touch",
    r"kontaktieren|schreiben sie uns|melden sie sich|wenden sie sich",
    r"contactez|écrivez-nous|prévenez-nous",
    r"contatti|ci scriva|ci contatti|scriveteci",
    r"contacte|escríbanos|contáctenos|avísenos",
    r"ご連絡|お問い合わせ|ご相談",
)
# "Did you like it? Then / If so, leave a review."
IF_SO = _words(
    r"then|if so|if yes|if you did",
    r"dann|wenn ja|falls ja",
    r"alors|si oui|si c'est le cas",
    r"allora|se sì|se è così",
    r"entonces|si es así|en ese caso",
    r"それでしたら|でしたら|それなら|その場合",
)
# "If you have a moment", "if you wish": conditions on the buyer's time or wish, not on
# their experience.
TIME_OR_WISH = _words(
    r"moments?|minutes?|time|chance|a while|used|tried|wish|want|would like|like to",
    r"moment|minuten?|zeit|gelegenheit|benutzt|ausprobiert|möchten|wünschen|mögen",
    r"moments?|minutes?|temps|occasion|utilisé|essayé|souhaitez|voulez|le souhaitez",
    r"moment[oi]|minut[oi]|tempo|occasione|usato|provato|vuole|desidera|crede",
    r"momentos?|minutos?|tiempo|ocasión|usado|probado|desea|quiere|lo desea",
    r"お時間|よろしければ|お試し|使って|ご希望",
)
CONDITION_CLAUSE = re.compile(
    r"\b(?:if|wenn|falls|sofern|si|se)\b(?P<clause>[^.!?;,:]{3,80})|"
    r"(?P<ja>[^。！？、]{2,30}(?:たら|れば|なら))[、,]",
    re.IGNORECASE,
)
# "Whether you loved it or not": a condition that covers every buyer is not gating.
EITHER_WAY = _words(
    r"or not|either way|whether|good or bad|positive or negative",
    r"oder nicht|ob sie|so oder so|positiv oder negativ",
    r"ou non|ou pas|que (?:le|la|les|vous)\b[^.!?]{0,40} ou non|positif ou négatif",
    r"o no|o meno|che (?:le|ti)\b[^.!?]{0,40} o no|positiva o negativa",
    r"como si no|tanto si|positiva o negativa",
    r"かどうか|にかかわらず|良い点も悪い点も",
)
SATISFIED_WORD = re.compile(rf"\b(?:{SATISFIED})\b|満足|気に入|お口に合", re.IGNORECASE)

GATING_WHY = (
    "Asking for a review only from satisfied buyers, or making the request depend on a "
    "good experience, is review gating. Ask every buyer for an honest review."
)
GATING_SOURCE = f"{GUIDE}: prohibited — asking only satisfied buyers for a review"


def sentences(text: str):
    """Each sentence of ``text`` as a match (placeholders blanked, spans unchanged)."""
    blank = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text)
    for m in re.finditer(r"[^.!?。！？\n]+[.!?。！？]*", blank):
        if m.group(0).strip():
            yield m


def _experience_condition(sentence: str) -> re.Match | None:
    """A condition in a review-request sentence that is not about the buyer's time or
    wish (those are fine), and not negative (those ask for help, judged elsewhere)."""
    for m in CONDITION_CLAUSE.finditer(sentence):
        clause = m.group("clause") or m.group("ja") or ""
        if TIME_OR_WISH.search(clause) or re.search(NEGATION, clause, re.IGNORECASE):
            continue
        if m.group("ja") and re.search(r"ない|ません", clause):
            continue
        return m
    return None


def _conditional_satisfaction(sentence: str) -> re.Match | None:
    for m in GATE.finditer(sentence):
        if not re.search(NEGATION, m.group("gap"), re.IGNORECASE):
            return m
    m = GATE_JA.search(sentence)
    if m and not re.search(r"ない|ません", m.group(0)):
        return m
    return None


def _gating(inp: LintInput):
    """Blocks when one sentence both conditions on satisfaction and asks for a review (or
    asks buyers to contact the seller before reviewing); warns when a satisfaction
    question is followed by a review request, because "Are you happy? Tell us either way"
    needs a human to judge."""
    for name, value in _fields(inp):
        found = list(sentences(value))
        for i, m in enumerate(found):
            s = m.group(0)
            if not REVIEW_ASK.search(s) or EITHER_WAY.search(s):
                continue
            hit = _conditional_satisfaction(s) or SATISFIED_GROUP.search(s)
            if hit is None:
                group = GROUP_WHO.search(s)
                if group and not re.search(NEGATION, group.group("gap"), re.IGNORECASE):
                    hit = group
            if hit is None and DIVERT.search(s) and CONTACT_FIRST.search(s):
                hit = DIVERT.search(s)
            if hit is not None:
                span = (m.start() + hit.start(), m.start() + hit.end())
                yield _finding(
                    "FU-REVIEW-GATING", "error", span, value, GATING_WHY, GATING_SOURCE, name
                )
                continue
            prev = found[i - 1].group(0) if i else ""
            question = prev.rstrip().endswith(("?", "？"))
            if question and IF_SO.search(s[:30]):
                # "Is everything perfect? Then a review would help": the review depends on
                # the answer, whatever the question.
                yield _finding(
                    "FU-REVIEW-GATING", "error", m, value, GATING_WHY, GATING_SOURCE, name
                )
                continue
            condition = _experience_condition(s)
            if condition is not None:
                yield _finding(
                    "FU-REVIEW-GATING",
                    "warning",
                    (m.start() + condition.start(), m.start() + condition.end()),
                    value,
                    "This review request depends on a condition. If the condition is about "
                    "the buyer's experience ('if the lamp brightened your room'), it is "
                    "review gating: ask every buyer.",
                    GATING_SOURCE,
                    name,
                )
                continue
            if question and SATISFIED_WORD.search(prev):
                if IF_SO.search(s[:30]):
                    yield _finding(
                        "FU-REVIEW-GATING", "error", m, value, GATING_WHY, GATING_SOURCE, name
                    )
                else:
                    yield _finding(
                        "FU-REVIEW-GATING",
                        "warning",
                        m,
                        value,
                        "A question about the buyer's satisfaction right before a review "
                        "request reads as 'review us if you liked it'. Ask every buyer, "
                        "whatever their experience.",
                        GATING_SOURCE,
                        name,
                    )


# --- asking to change or remove a review ------------------------------------------------
REVIEW_NOUN = (
    r"reviews?|ratings?|feedback|stars?"
    r"|\w*bewertung(?:en)?|\w*rezension(?:en)?|kommentar|feedback"
    r"|avis|évaluations?|commentaires?|note"
    r"|recension[ei]|valutazion[ei]|giudizio|commento|voto"
    r"|reseñas?|opinión|valoración|comentario|puntuación|calificación"
)
CHANGE_VERB = (
    r"chang\w*|remov\w*|delet\w*|updat\w*|revis\w*|edit\w*|amend\w*|withdraw\w*|reconsider\w*"
    r"|retract\w*|modif\w*|upgrad\w*|adjust\w*|correct\w*|raise|improve your"
    r"|änder\w*|lösch\w*|entfern\w*|zurückzu?zieh\w*|zurückzu?nehm\w*|überarbeit\w*|überdenk\w*"
    r"|anpass\w*|aktualisier\w*|korrigier\w*|revidier\w*|zurück"
    r"|modifi\w*|supprim\w*|retir\w*|chang\w*|mettre à jour|mise à jour|révis\w*|reconsidér\w*"
    r"|revoir"
    r"|corrig\w*|enlev\w*|effac\w*"
    r"|modific\w*|rimuov\w*|cancell\w*|elimin\w*|ritir\w*|aggiorn\w*|rived\w*|cambi\w*"
    r"|correg\w*|togli\w*"
    r"|cambi\w*|modifi\w*|elimin\w*|borr\w*|retir\w*|actualiz\w*|revis\w*|quit\w*|correg\w*"
    r"|reconsider\w*"
)
# The verb and the review within a few words of each other, in either order ("remove the
# one-star rating", "Ihre Bewertung noch einmal überarbeiten", "take your feedback down").
CHANGE = re.compile(
    rf"\b(?:{CHANGE_VERB})\b(?:\W+\w+){{0,4}}?\W+(?:{REVIEW_NOUN})\b"
    rf"|\b(?:{REVIEW_NOUN})\b(?:\W+\w+){{0,6}}?\W+(?:{CHANGE_VERB})\b"
    r"|\btake\b[^.!?]{0,40}\b(?:review|rating|feedback)\b[^.!?]{0,10}\bdown\b"
    # German separable verbs: "Passen Sie bitte Ihre Rezension an", "Ziehen Sie … zurück"
    rf"|\b(?:pass|zieh|nehm|änder|stell)\w*\b(?:\W+\w+){{0,5}}?\W+(?:{REVIEW_NOUN})\b"
    r"(?:\W+\w+){0,4}?\W+(?:an|zurück|raus|heraus|runter|herunter|um)\b",
    re.IGNORECASE,
)
CHANGE_JA = re.compile(
    r"(?:レビュー|評価|口コミ)[^。！？]{0,10}?"
    r"(?:変更|削除|修正|取り下げ|取り消|書き直|更新|見直|編集|撤回|消して|消去|考え直)"
)
# "We changed the supplier after your review": the seller changing something is fine.
SELLER = r"\b(?:we|we've|i|i've|wir|nous|avons|noi|abbiamo|hemos|nosotros)\b"
SELLER_SUBJECT = re.compile(rf"{SELLER}\W+(?:\w+\W+)?$", re.IGNORECASE)
# Words that address the buyer: with them, "we would be grateful if you revised…" is still
# a request; without them, "we revised the manual after reviews" is the seller's doing.
ADDRESSED = _words(
    r"you|your|please|could|would",
    r"sie|ihre?n?|bitte|könnten|würden",
    r"vous|votre|merci de|pourriez|accepteriez",
    r"lei|sua|la preghiamo|le chiediamo|potrebbe|vorrebbe",
    r"usted|su|le rogamos|podría|por favor",
    r"いただけ|ください|お願い",
)


def _change(inp: LintInput):
    """Blocks a request to change, update or remove the buyer's review, in any order, also
    when the review was named in the sentence before ("We saw your review. Could you
    update it?")."""
    for name, value in _fields(inp):
        previous = ""
        for m in sentences(value):
            s = m.group(0)
            hit = CHANGE_JA.search(s)
            if hit is None and re.search(rf"\b(?:{REVIEW_NOUN})\b|レビュー|評価", previous, re.I):
                verb = re.search(rf"\b(?:{CHANGE_VERB})\b", s, re.IGNORECASE) or re.search(
                    r"(?:変更|削除|修正|取り下げ|取り消|書き直|更新|見直|編集|撤回|消して)", s
                )
                seller = verb and re.search(SELLER, s[: verb.start()], re.IGNORECASE)
                if verb and ADDRESSED.search(s) and not seller:
                    hit = verb
            previous = s
            if hit is None:
                for c in CHANGE.finditer(s):
                    seller = re.search(SELLER, c.group(0), re.IGNORECASE) or (
                        re.search(SELLER, s[: c.start()], re.IGNORECASE) and not ADDRESSED.search(s)
                    )
                    if not seller and not SELLER_SUBJECT.search(s[: c.start()][-25:]):
                        hit = c
                        break
            if hit is not None:
                yield _finding(
                    "FU-REVIEW-CHANGE",
                    "error",
                    (m.start() + hit.start(), m.start() + hit.end()),
                    value,
                    "Asking a buyer to change, update or remove a review is not allowed.",
                    f"{GUIDE}: prohibited — asking to change or remove a review",
                    name,
                )
                break
