"""Built-in template placeholders: order id, marketplace, products, dates, seller name.

Placeholders never carry buyer PII: Amazon relays messages, and the guidelines forbid
using buyer data beyond the order (docs/amazon-rules.md §4, last point).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from .hookspecs import hookimpl
from .items import order_items

# A plain date format per language, so "delivery_date" reads naturally to the buyer.
DATE_FORMATS = {
    "de": "%d.%m.%Y",
    "fr": "%d/%m/%Y",
    "it": "%d/%m/%Y",
    "es": "%d/%m/%Y",
    "ja": "%Y年%m月%d日",
    "en": "%B %d, %Y",
}


# Where a buyer replies: Amazon's own messaging, never an email address or phone number.
CONTACT = {
    "en": "You can reply to this message through Amazon's Buyer-Seller Messaging.",
    "de": (
        "Sie können auf diese Nachricht über die Amazon-Käufer-Verkäufer-Kommunikation antworten."
    ),
    "fr": "Vous pouvez répondre à ce message via la messagerie acheteur-vendeur d'Amazon.",
    "it": (
        "Può rispondere a questo messaggio tramite la messaggistica acquirente-venditore di Amazon."
    ),
    "es": "Puede responder a este mensaje a través de la mensajería comprador-vendedor de Amazon.",
    "ja": "このメッセージには、Amazonの購入者・出品者間メッセージからご返信いただけます。",
}


def format_date(value, language: str, timezone: str) -> str:
    if value is None:
        return ""
    local = value.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(timezone))
    return local.strftime(DATE_FORMATS.get(language, "%Y-%m-%d"))


@hookimpl
def template_context(engine, order, message):
    mkt = engine.marketplace(order.marketplace)
    language = (message.language if message is not None and message.language else "") or (
        mkt.languages[0] if mkt else "en"
    )
    tz = mkt.timezone if mkt else "UTC"
    items = order_items(order)
    window = engine.delivery_window(order)
    content = _product_content(message, items)
    return {
        "order_id": order.order_id,
        "marketplace": order.marketplace,
        "marketplace_name": mkt.name if mkt else order.marketplace,
        "product_title": items[0].title if items else "",
        "products": [
            {"title": i.title, "sku": i.sku, "asin": i.asin, "quantity": i.quantity} for i in items
        ],
        "seller_name": order.account.name if order.account_id else "",
        "delivery_date": format_date(window.latest if window else None, language, tz),
        "contact_instruction": CONTACT.get(language, CONTACT["en"]),
        "product_content": content,
        "manual_link": content.get("manual_link", ""),
    }


def _product_content(message, items) -> dict:
    """Per-SKU content of a multi-product campaign step (e.g. the right manual per SKU).

    ``Step.product_content`` maps SKU -> {key: text}; the order's first item with an
    entry wins, so ``{{ product_content.manual }}`` is the manual for what was bought.
    """
    if message is None or not message.step_id:
        return {}
    content = message.step.product_content or {}
    for item in items:
        if item.sku in content:
            return dict(content[item.sku])
    return dict(content.get("*", {}))
