"""The preset campaigns: FBA and FBM sequences per marketplace.

Amazon already sends the order confirmation, the shipment notice and (for some FBA
orders) a review request, and its guidelines forbid repeating them (docs/amazon-rules.md §3, §4):
so no preset contains a thank-you, order, shipping or delivery confirmation. Each preset
holds only permitted purposes (product instructions, delivery scheduling for heavy items,
customization confirmation) and ends with the one review request per order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import LIBRARY_LANGUAGES, Marketplace, Preset

# Languages the shipped template library (core/library/*.toml) is written in. A
# marketplace whose languages are not among them gets no free-text steps: a message in
# the wrong language breaks the guidelines ("the buyer's preferred language").
LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "it": "Italian",
    "es": "Spanish",
    "ja": "Japanese",
    "nl": "Dutch",
    "sv": "Swedish",
    "pl": "Polish",
    "tr": "Turkish",
    "pt": "Portuguese",
    "ar": "Arabic",
}

# Days after Amazon's review window opens (5 days after delivery) before asking: longer
# where "delivered" often means "at the depot" or the country is large (AU, BR, MX, IN),
# and for FBA, whose delivery date is only an estimate.
REVIEW_DELAY_DAYS = {
    "US": 2,
    "CA": 2,
    "UK": 2,
    "DE": 2,
    "FR": 2,
    "IT": 2,
    "ES": 2,
    "NL": 2,
    "BE": 2,
    "IE": 2,
    "SE": 2,
    "PL": 2,
    "JP": 3,
    "AU": 5,
    "MX": 4,
    "BR": 4,
    "IN": 4,
}
DEFAULT_REVIEW_DELAY = 3
FBA_EXTRA_DAYS = 1

# SKU lists a seller fills in (step rule or the Sequences settings page).
LISTS = {
    "bulky": "bulky or heavy items delivered by a freight carrier",
    "customized": "products made to the buyer's personalisation",
    "manual": "products that have a manual link in the step's product content",
}

REVIEW_SENDER = "amazon_review"
MESSAGING_SENDER = "amazon_messaging"
EMAIL_SENDER = "email"


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def library_language(mkt: Marketplace) -> str | None:
    """The marketplace's first language the template library has, or None."""
    return next((lang for lang in mkt.languages if lang in LIBRARY_LANGUAGES), None)


def review_delay(code: str, fulfillment: str) -> int:
    """Days after the review window opens, for ``code`` and FBA/FBM."""
    base = REVIEW_DELAY_DAYS.get(code, DEFAULT_REVIEW_DELAY)
    return base + (FBA_EXTRA_DAYS if fulfillment == "FBA" else 0)


def _scope(code: str, fulfillment: str) -> list[dict]:
    # A preset is made for one marketplace and one channel: its steps must not reach
    # other orders of the same seller account.
    return [
        {"rule": "marketplace_in", "params": {"marketplaces": code}},
        {"rule": "fulfillment", "params": {"fulfillment": fulfillment}},
        {"rule": "not_cancelled_returned_refunded", "params": {}},
    ]


def review_step(code: str, fulfillment: str, senders: Mapping[str, Any]) -> dict | None:
    """The last step of every preset: Amazon's Request a Review button when the Amazon
    plugin is on, else a neutral free-text request by email; None when neither exists."""
    delay = review_delay(code, fulfillment)
    common = dict(
        trigger="delivered",
        anchor="review_window",
        delay_days=delay,
        window_start_hour=9,
        window_end_hour=18,
        priority=5,
        rules=[*_scope(code, fulfillment), {"rule": "no_negative_feedback", "params": {}}],
    )
    if REVIEW_SENDER in senders:
        return dict(
            common,
            name=f"Request a Review, {_days(delay)} after Amazon's window opens",
            sender=REVIEW_SENDER,
            message_type="review_request",
        )
    if EMAIL_SENDER in senders:
        return dict(
            common,
            name=f"Review request by email, {_days(delay)} after Amazon's window opens",
            sender=EMAIL_SENDER,
            message_type="review_request",
            template="review_request",
        )
    return None


def _listed(code: str, fulfillment: str, name: str) -> list[dict]:
    return [*_scope(code, fulfillment), {"rule": "sku_list", "params": {"list": name}}]


def instructions_step(code: str) -> dict:
    """FBA: set-up instructions on the (estimated) delivery day, by email: the Messaging
    API has no operation for instructions (core/library/product_instructions.toml)."""
    return dict(
        name="Product instructions on the delivery day",
        trigger="delivered",
        delay_days=0,
        window_start_hour=9,
        window_end_hour=18,
        sender=EMAIL_SENDER,
        message_type="product_instructions",
        template="product_instructions",
        priority=4,
        rules=_listed(code, "FBA", "manual"),
    )


def customization_step(code: str) -> dict:
    """FBM: confirm the personalisation an hour after the order, before production
    (Messaging API confirmCustomizationDetails)."""
    return dict(
        name="Confirm the customization before production",
        trigger="ordered",
        delay_hours=1,
        window_start_hour=8,
        window_end_hour=20,
        sender=MESSAGING_SENDER,
        message_type="confirmCustomizationDetails",
        template="customization",
        priority=2,
        rules=_listed(code, "FBM", "customized"),
    )


def delivery_step(code: str) -> dict:
    """FBM: arrange the delivery of a bulky item when it ships (Messaging API
    createConfirmDeliveryDetails)."""
    return dict(
        name="Arrange delivery of bulky items when shipped",
        trigger="shipped",
        delay_hours=1,
        window_start_hour=8,
        window_end_hour=20,
        sender=MESSAGING_SENDER,
        message_type="createConfirmDeliveryDetails",
        template="delivery_scheduling",
        priority=2,
        rules=_listed(code, "FBM", "bulky"),
    )


def presets_for(mkt: Marketplace, fulfillment: str, senders: Mapping[str, Any]) -> list[Preset]:
    """The presets offered for ``mkt`` and ``fulfillment`` ("FBA" or "FBM")."""
    if fulfillment not in ("FBA", "FBM"):
        return []
    review = review_step(mkt.code, fulfillment, senders)
    if review is None:
        return []
    code, lower = mkt.code, fulfillment.lower()
    shop = mkt.name or code
    language = library_language(mkt)
    wanted = ", ".join(LANGUAGE_NAMES.get(lang, lang) for lang in mkt.languages)
    when = f"{_days(review['delay_days'])} after Amazon's review window opens"
    presets = [
        Preset(
            f"{lower}-review-{code.lower()}",
            f"{fulfillment} {code}: Request a Review only",
            code,
            fulfillment,
            (review,),
            f"One review request per {fulfillment} order on {shop}, {when} (the window opens "
            "5 days after delivery). Amazon already sends order and shipping confirmations, "
            "so nothing else is sent.",
        )
    ]
    if language is None:
        note = (
            f" The template library has no {wanted} texts yet, so this preset has no "
            "free-text messages: add a step with your own template in the buyer's language."
        )
        return [
            Preset(p.name, p.label, p.marketplace, p.fulfillment, p.steps, p.description + note)
            for p in presets
        ]
    texts = f"Texts come from the template library in {LANGUAGE_NAMES[language]}"
    if fulfillment == "FBA" and EMAIL_SENDER in senders:
        presets.append(
            Preset(
                f"fba-instructions-review-{code.lower()}",
                f"FBA {code}: instructions on delivery, then Request a Review",
                code,
                "FBA",
                (instructions_step(code), review),
                f"On the estimated delivery day, buyers of the SKUs you list as 'manual' "
                "(Sequences settings) get set-up instructions with the manual link you put "
                f"in the step's product content; then a review request {when}. "
                f"{texts}, sent by email (Buyer-Seller Messaging).",
            )
        )
    if fulfillment == "FBM" and MESSAGING_SENDER in senders:
        presets.append(
            Preset(
                f"fbm-custom-bulky-review-{code.lower()}",
                f"FBM {code}: customization check, bulky delivery, then Request a Review",
                code,
                "FBM",
                (customization_step(code), delivery_step(code), review),
                "An hour after the order, buyers of the SKUs you list as 'customized' are "
                "asked to check their personalisation; when a SKU you list as 'bulky' ships, "
                f"the buyer is asked for a delivery time slot; then a review request {when}. "
                f"{texts}, sent through Amazon's Messaging API. Fill in the SKU lists on the "
                "Sequences settings page (or in each step's rule) first: an empty list "
                "sends nothing.",
            )
        )
    return presets
