"""Built-in campaign rules (filters). Each answers ``None`` or a reason for the trace.

``params`` come from the step's rule rows in the campaign editor; each rule documents
its parameters in ``params_help``. Values are compared case-insensitively where a seller
would expect it (SKUs, country codes).
"""

from __future__ import annotations

from datetime import datetime

from peewee import Case, fn

from .contracts import Rule, parse_codes
from .hookspecs import hookimpl


def _items(order):
    from .models import OrderItem

    return list(OrderItem.select().where(OrderItem.order == order))


def marketplace_in(engine, order, params):
    allowed = parse_codes(params.get("marketplaces"))
    if allowed and order.marketplace.upper() not in allowed:
        return f"rule: marketplace {order.marketplace} not in {', '.join(sorted(allowed))}"
    return None


def marketplace_in_sql(q, params):
    allowed = parse_codes(params.get("marketplaces"))
    if not allowed:
        return []
    reason = q.concat(
        "rule: marketplace ", q.o.marketplace, f" not in {', '.join(sorted(allowed))}"
    )
    return [(fn.UPPER(q.o.marketplace).not_in(sorted(allowed)), reason)]


def fulfillment_is(engine, order, params):
    wanted = str(params.get("fulfillment", "")).upper()
    if wanted and order.fulfillment != wanted:
        return f"rule: fulfilment is {order.fulfillment}, campaign wants {wanted}"
    return None


def fulfillment_is_sql(q, params):
    wanted = str(params.get("fulfillment", "")).upper()
    if not wanted:
        return []
    reason = q.concat("rule: fulfilment is ", q.o.fulfillment, f", campaign wants {wanted}")
    return [(q.o.fulfillment != wanted, reason)]


def _product_rule(field: str, include: bool):
    label = field.upper()

    def check(engine, order, params):
        listed = parse_codes(params.get("values"))
        if not listed:
            return None
        have = {getattr(i, field).upper() for i in _items(order)}
        if include and not (have & listed):
            return f"rule: {label} not in campaign ({', '.join(sorted(have)) or 'no items'})"
        if not include and (have & listed):
            return f"rule: {label} {', '.join(sorted(have & listed))} is excluded"
        return None

    return check


def _product_sql(field: str, include: bool):
    """The SQL form of ``_product_rule``: the same reasons, item codes sorted and joined."""
    label = field.upper()

    def sql(q, params):
        from .models import OrderItem

        listed = sorted(parse_codes(params.get("values")))
        if not listed:
            return []
        if q.has_non_ascii(getattr(OrderItem, field)):
            return None  # SQL's UPPER() is not Python's for these: plan in Python
        item = OrderItem.alias()
        code = fn.UPPER(getattr(item, field))
        mine = item.order == q.o.id
        hit = fn.EXISTS(item.select(item.id).where(mine & code.in_(listed)))
        if include:
            have = q.joined(item.select(code.alias("v")).where(mine))
            reason = q.concat(
                f"rule: {label} not in campaign (",
                fn.COALESCE(fn.NULLIF(have, ""), "no items"),
                ")",
            )
            return [(~hit, reason)]
        have = q.joined(item.select(code.alias("v")).where(mine & code.in_(listed)))
        return [(hit, q.concat(f"rule: {label} ", have, " is excluded"))]

    return sql


def order_total_range(engine, order, params):
    low, high = params.get("min"), params.get("max")
    if low not in (None, "") and order.total < float(low):
        return f"rule: order total {order.total:.2f} below {float(low):.2f}"
    if high not in (None, "") and order.total > float(high):
        return f"rule: order total {order.total:.2f} above {float(high):.2f}"
    return None


def order_total_sql(q, params):
    from .models import Order

    low, high = params.get("min"), params.get("max")
    out = []
    if low in (None, "") and high in (None, ""):
        return out
    if q.has_rounding_ties(Order.total):
        return None  # rounding ties print differently in SQL: plan in Python
    if low not in (None, ""):
        reason = q.concat("rule: order total ", q.money(q.o.total), f" below {float(low):.2f}")
        out.append((q.o.total < float(low), reason))
    if high not in (None, ""):
        reason = q.concat("rule: order total ", q.money(q.o.total), f" above {float(high):.2f}")
        out.append((q.o.total > float(high), reason))
    return out


def item_count(engine, order, params):
    low, high = params.get("min"), params.get("max")
    if low not in (None, "") and order.item_count < int(low):
        return f"rule: {order.item_count} items, fewer than {int(low)}"
    if high not in (None, "") and order.item_count > int(high):
        return f"rule: {order.item_count} items, more than {int(high)}"
    return None


def item_count_sql(q, params):
    low, high = params.get("min"), params.get("max")
    out = []
    if low not in (None, ""):
        reason = q.concat("rule: ", q.text(q.o.item_count), f" items, fewer than {int(low)}")
        out.append((q.o.item_count < int(low), reason))
    if high not in (None, ""):
        reason = q.concat("rule: ", q.text(q.o.item_count), f" items, more than {int(high)}")
        out.append((q.o.item_count > int(high), reason))
    return out


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


def buyer_type_sql(q, params):
    from .models import Order

    wanted = params.get("type", "")
    if not wanted:
        return []
    o, other = q.o, Order.alias()
    unknown = o.buyer_key == ""
    earlier = fn.EXISTS(
        other.select(other.id).where(
            (other.account == o.account)
            & (other.buyer_key == o.buyer_key)
            & (other.purchased_at < o.purchased_at)
        )
    )
    out = [(unknown, "rule: buyer unknown, cannot tell first from repeat")]
    if wanted == "first":
        out.append((earlier, "rule: repeat buyer, campaign is for first-time buyers"))
    if wanted == "repeat":
        out.append((~earlier, "rule: first-time buyer, campaign is for repeat buyers"))
    return out


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


def _flag_sql(attr: str, label: str):
    def sql(q, params):
        wanted = params.get("value")
        if wanted in (None, ""):
            return []
        wanted = wanted if isinstance(wanted, bool) else str(wanted).lower() in ("1", "true", "yes")
        # Failing means the flag is the opposite of ``wanted``: the reason is a constant.
        return [(getattr(q.o, attr) != wanted, f"rule: {label} is {'no' if wanted else 'yes'}")]

    return sql


def ship_country(engine, order, params):
    include, exclude = parse_codes(params.get("include")), parse_codes(params.get("exclude"))
    country = (order.ship_country or "").upper()
    if include and country not in include:
        return f"rule: ships to {country or 'unknown country'}, not {', '.join(sorted(include))}"
    if country in exclude:
        return f"rule: ships to {country}, which is excluded"
    return None


def ship_country_sql(q, params):
    include, exclude = parse_codes(params.get("include")), parse_codes(params.get("exclude"))
    country = fn.UPPER(fn.COALESCE(q.o.ship_country, ""))
    out = []
    if include:
        shown = fn.COALESCE(fn.NULLIF(country, ""), "unknown country")
        reason = q.concat("rule: ships to ", shown, f", not {', '.join(sorted(include))}")
        out.append((country.not_in(sorted(include)), reason))
    if exclude:
        reason = q.concat("rule: ships to ", country, ", which is excluded")
        out.append((country.in_(sorted(exclude)), reason))
    return out


def placed_after(engine, order, params):
    start = params.get("date")
    if not start:
        return None
    start_dt = datetime.fromisoformat(str(start))
    if order.purchased_at < start_dt:
        return f"rule: placed {order.purchased_at:%Y-%m-%d}, before {start_dt:%Y-%m-%d}"
    return None


def placed_after_sql(q, params):
    start = params.get("date")
    if not start:
        return []
    start_dt = datetime.fromisoformat(str(start))
    if start_dt.tzinfo is not None:
        return None  # Python compares it to a naive time (and fails): keep that behaviour
    reason = q.concat("rule: placed ", q.date(q.o.purchased_at), f", before {start_dt:%Y-%m-%d}")
    return [(q.o.purchased_at < start_dt, reason)]


def not_cancelled_returned_refunded(engine, order, params):
    unwanted = order.unwanted_event()
    if unwanted:
        kind, when = unwanted
        return f"excluded: {kind} on {when:%Y-%m-%d}"
    return None


def not_cancelled_returned_refunded_sql(q, params):
    return [q.unwanted()]


def no_negative_feedback(engine, order, params):
    if order.negative_feedback:
        return "rule: buyer left negative feedback on this order"
    return None


def no_negative_feedback_sql(q, params):
    return [(q.o.negative_feedback == True, "rule: buyer left negative feedback on this order")]  # noqa: E712


def buyer_not_blocked(engine, order, params):
    from .models import OptOut

    if order.buyer_key:
        # Blocklist before opt-out when both exist (what SQLite's index order gave).
        row = (
            OptOut.select().where(OptOut.buyer_key == order.buyer_key).order_by(OptOut.kind).first()
        )
        if row is not None:
            listed = "opt-out list" if row.kind == "opt_out" else "blocklist"
            return f"excluded: buyer is on the {listed}"
    return None


def buyer_not_blocked_sql(q, params):
    kind = q.optout_kind()  # NULL without a buyer key or a row
    listed = Case(kind, [("opt_out", "opt-out list")], "blocklist")
    reason = q.concat("excluded: buyer is on the ", listed)
    return [(kind.is_null(False), reason)]


@hookimpl
def register_rules(engine):
    return [
        Rule(
            "marketplace_in",
            "Marketplace is one of",
            marketplace_in,
            "marketplaces: US DE",
            marketplace_in_sql,
        ),
        Rule(
            "fulfillment",
            "Fulfilment channel",
            fulfillment_is,
            "fulfillment: FBA or FBM",
            fulfillment_is_sql,
        ),
        Rule(
            "sku_include",
            "SKU is one of",
            _product_rule("sku", True),
            "values: SKU list",
            _product_sql("sku", True),
        ),
        Rule(
            "sku_exclude",
            "SKU is not",
            _product_rule("sku", False),
            "values: SKU list",
            _product_sql("sku", False),
        ),
        Rule(
            "asin_include",
            "ASIN is one of",
            _product_rule("asin", True),
            "values: ASINs",
            _product_sql("asin", True),
        ),
        Rule(
            "asin_exclude",
            "ASIN is not",
            _product_rule("asin", False),
            "values: ASINs",
            _product_sql("asin", False),
        ),
        Rule("order_total", "Order total between", order_total_range, "min, max", order_total_sql),
        Rule("item_count", "Item count between", item_count, "min, max", item_count_sql),
        Rule(
            "buyer_type",
            "First-time or repeat buyer",
            buyer_type,
            "type: first or repeat",
            buyer_type_sql,
        ),
        Rule(
            "business",
            "Business order",
            _flag_rule("is_business", "business order"),
            "value",
            _flag_sql("is_business", "business order"),
        ),
        Rule(
            "prime",
            "Prime order",
            _flag_rule("is_prime", "Prime"),
            "value: true/false",
            _flag_sql("is_prime", "Prime"),
        ),
        Rule(
            "shipped_late",
            "Shipped late",
            _flag_rule("shipped_late", "shipped late"),
            "value",
            _flag_sql("shipped_late", "shipped late"),
        ),
        Rule(
            "ship_country",
            "Ship-to country",
            ship_country,
            "include, exclude: DE AT",
            ship_country_sql,
        ),
        Rule(
            "placed_after",
            "Order placed after",
            placed_after,
            "date: 2026-01-31",
            placed_after_sql,
        ),
        Rule(
            "not_cancelled_returned_refunded",
            "Not cancelled, returned or refunded",
            not_cancelled_returned_refunded,
            sql=not_cancelled_returned_refunded_sql,
        ),
        Rule(
            "buyer_not_blocked",
            "Buyer not opted out or blocklisted",
            buyer_not_blocked,
            sql=buyer_not_blocked_sql,
        ),
        Rule(
            "no_negative_feedback",
            "No negative feedback",
            no_negative_feedback,
            sql=no_negative_feedback_sql,
        ),
    ]
