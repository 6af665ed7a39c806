"""Built-in campaign rules (filters). Each answers ``None`` or a reason for the trace.

``params`` come from the step's rule rows in the campaign editor; each rule documents
its parameters in ``params_help``. Values are compared case-insensitively where a seller
would expect it (SKUs, country codes).
"""

from __future__ import annotations

from datetime import datetime

from .contracts import Rule
from .hookspecs import hookimpl


def _codes(value) -> set[str]:
    """Accept a list or a comma/space separated string from a form field."""
    if value is None:
        return set()
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return {str(v).strip().upper() for v in value if str(v).strip()}


def _items(order):
    from .models import OrderItem

    return list(OrderItem.select().where(OrderItem.order == order))


def marketplace_in(engine, order, params):
    allowed = _codes(params.get("marketplaces"))
    if allowed and order.marketplace.upper() not in allowed:
        return f"rule: marketplace {order.marketplace} not in {', '.join(sorted(allowed))}"
    return None


def fulfillment_is(engine, order, params):
    wanted = str(params.get("fulfillment", "")).upper()
    if wanted and order.fulfillment != wanted:
        return f"rule: fulfilment is {order.fulfillment}, campaign wants {wanted}"
    return None


def _product_rule(field: str, include: bool):
    label = field.upper()

    def check(engine, order, params):
        listed = _codes(params.get("values"))
        if not listed:
            return None
        have = {getattr(i, field).upper() for i in _items(order)}
        if include and not (have & listed):
            return f"rule: {label} not in campaign ({', '.join(sorted(have)) or 'no items'})"
        if not include and (have & listed):
            return f"rule: {label} {', '.join(sorted(have & listed))} is excluded"
        return None

    return check


def order_total_range(engine, order, params):
    low, high = params.get("min"), params.get("max")
    if low not in (None, "") and order.total < float(low):
        return f"rule: order total {order.total:.2f} below {float(low):.2f}"
    if high not in (None, "") and order.total > float(high):
        return f"rule: order total {order.total:.2f} above {float(high):.2f}"
    return None


def item_count(engine, order, params):
    low, high = params.get("min"), params.get("max")
    if low not in (None, "") and order.item_count < int(low):
        return f"rule: {order.item_count} items, fewer than {int(low)}"
    if high not in (None, "") and order.item_count > int(high):
        return f"rule: {order.item_count} items, more than {int(high)}"
    return None


def buyer_type(engine, order, params):
    """first: the buyer's first order with this seller; repeat: any later one."""
    from .models import Order

    wanted = params.get("type", "")
    if not wanted or not order.buyer_key:
        return None if not wanted else "rule: buyer unknown, cannot tell first from repeat"
    earlier = (
        Order.select()
        .where(
            (Order.account == order.account_id)
            & (Order.buyer_key == order.buyer_key)
            & (Order.purchased_at < order.purchased_at)
        )
        .exists()
    )
    if wanted == "first" and earlier:
        return "rule: repeat buyer, campaign is for first-time buyers"
    if wanted == "repeat" and not earlier:
        return "rule: first-time buyer, campaign is for repeat buyers"
    return None


def _flag_rule(attr: str, label: str):
    def check(engine, order, params):
        wanted = params.get("value")
        if wanted in (None, ""):
            return None
        wanted = wanted if isinstance(wanted, bool) else str(wanted).lower() in ("1", "true", "yes")
        if bool(getattr(order, attr)) != wanted:
            return f"rule: {label} is {'yes' if getattr(order, attr) else 'no'}"
        return None

    return check


def ship_country(engine, order, params):
    include, exclude = _codes(params.get("include")), _codes(params.get("exclude"))
    country = (order.ship_country or "").upper()
    if include and country not in include:
        return f"rule: ships to {country or 'unknown country'}, not {', '.join(sorted(include))}"
    if country in exclude:
        return f"rule: ships to {country}, which is excluded"
    return None


def placed_after(engine, order, params):
    start = params.get("date")
    if not start:
        return None
    start_dt = datetime.fromisoformat(str(start))
    if order.purchased_at < start_dt:
        return f"rule: placed {order.purchased_at:%Y-%m-%d}, before {start_dt:%Y-%m-%d}"
    return None


def not_cancelled_returned_refunded(engine, order, params):
    unwanted = order.unwanted_event()
    if unwanted:
        kind, when = unwanted
        return f"excluded: {kind} on {when:%Y-%m-%d}"
    return None


def no_negative_feedback(engine, order, params):
    if order.negative_feedback:
        return "rule: buyer left negative feedback on this order"
    return None


def buyer_not_blocked(engine, order, params):
    from .models import OptOut

    if order.buyer_key:
        row = OptOut.get_or_none(OptOut.buyer_key == order.buyer_key)
        if row is not None:
            listed = "opt-out list" if row.kind == "opt_out" else "blocklist"
            return f"excluded: buyer is on the {listed}"
    return None


@hookimpl
def register_rules(engine):
    return [
        Rule("marketplace_in", "Marketplace is one of", marketplace_in, "marketplaces: US DE"),
        Rule("fulfillment", "Fulfilment channel", fulfillment_is, "fulfillment: FBA or FBM"),
        Rule("sku_include", "SKU is one of", _product_rule("sku", True), "values: SKU list"),
        Rule("sku_exclude", "SKU is not", _product_rule("sku", False), "values: SKU list"),
        Rule("asin_include", "ASIN is one of", _product_rule("asin", True), "values: ASINs"),
        Rule("asin_exclude", "ASIN is not", _product_rule("asin", False), "values: ASINs"),
        Rule("order_total", "Order total between", order_total_range, "min, max"),
        Rule("item_count", "Item count between", item_count, "min, max"),
        Rule("buyer_type", "First-time or repeat buyer", buyer_type, "type: first or repeat"),
        Rule("business", "Business order", _flag_rule("is_business", "business order"), "value"),
        Rule("prime", "Prime order", _flag_rule("is_prime", "Prime"), "value: true/false"),
        Rule("shipped_late", "Shipped late", _flag_rule("shipped_late", "shipped late"), "value"),
        Rule("ship_country", "Ship-to country", ship_country, "include, exclude: DE AT"),
        Rule("placed_after", "Order placed after", placed_after, "date: 2026-01-31"),
        Rule(
            "not_cancelled_returned_refunded",
            "Not cancelled, returned or refunded",
            not_cancelled_returned_refunded,
        ),
        Rule("buyer_not_blocked", "Buyer not opted out or blocklisted", buyer_not_blocked),
        Rule("no_negative_feedback", "No negative feedback", no_negative_feedback),
    ]
