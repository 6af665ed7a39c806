"""Built-in campaign rules (filters). Each answers ``None`` or a reason for the trace.

``params`` come from the step's rule rows in the campaign editor; each rule documents
its parameters in ``params_help``. Values are compared case-insensitively where a seller
would expect it (SKUs, country codes).

Each rule reads its parameters through one ``Params`` spec: ``validate`` (run when a step
is saved or a campaign activated) and ``check``/``sql`` (run when planning and sending)
parse with the same functions, so a value that validates is exactly what runs, and a
stored value that cannot be read raises ``ValueError`` in the same words.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from peewee import Case, fn

from .contracts import ParamField, Params, Rule, parse_codes
from .hookspecs import hookimpl
from .items import order_items
from .models import OptOut, Order, OrderItem

# -- parameter parsing, shared by validate, check and sql -----------------------------------


def _unset(value) -> bool:
    """An empty form field or a missing key: the parameter does not restrict anything."""
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value) -> str:
    """A typed value as the seller sees it in an error: quoted, surrounding blanks gone."""
    return repr(str(value).strip())


def _number(value) -> float | None:
    """A finite decimal number (``19.99``); ``None`` when unset."""
    if _unset(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{_shown(value)} is not a number")
    try:
        number = float(value if isinstance(value, int | float) else str(value).strip())
    except ValueError:
        hint = " (write decimals with a point, e.g. 19.99)" if "," in str(value) else ""
        raise ValueError(f"{_shown(value)} is not a number{hint}") from None
    if not math.isfinite(number):
        raise ValueError(f"{_shown(value)} is not a number")
    return number


def _whole(value) -> int | None:
    """A whole number, 0 or more; ``None`` when unset."""
    if _unset(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{_shown(value)} is not a whole number")
    try:
        number = int(value) if isinstance(value, int) else int(value.strip())
    except ValueError:
        raise ValueError(f"{_shown(value)} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{_shown(value)} is below 0")
    return number


def _date(value) -> datetime | None:
    """An ISO date (``2026-01-31``, optionally with a time), compared as UTC."""
    if _unset(value):
        return None
    try:
        when = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{_shown(value)} is not a date like 2026-01-31") from None
    if when.tzinfo is not None:
        # Order times are stored as naive UTC: comparing with a zoned time cannot work.
        raise ValueError(f"{_shown(value)} has a time zone; write the UTC date, e.g. 2026-01-31")
    return when


# Amazon's own names for the two channels, as its reports spell them.
_FULFILMENT = {"FBA": "FBA", "AFN": "FBA", "FBM": "FBM", "MFN": "FBM"}


def _fulfillment(value) -> str | None:
    """FBA or FBM (Amazon's AFN and MFN read as the same)."""
    if _unset(value):
        return None
    wanted = _FULFILMENT.get(str(value).strip().upper())
    if wanted is None:
        raise ValueError(f"{_shown(value)} is not FBA or FBM")
    return wanted


def _buyer_type(value) -> str | None:
    if _unset(value):
        return None
    wanted = str(value).strip().lower()
    if wanted not in ("first", "repeat"):
        raise ValueError(f"{_shown(value)} is not first or repeat")
    return wanted


_YES, _NO = ("1", "true", "yes"), ("0", "false", "no")


def _flag(value) -> bool | None:
    """yes or no (also true/false, 1/0); ``None`` when unset."""
    if _unset(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _YES + _NO:
        raise ValueError(f"{_shown(value)} is not yes or no")
    return text in _YES


_COUNTRY = re.compile(r"[A-Z]{2}")


def _countries(value) -> set[str]:
    """Two-letter ISO country codes, as Amazon reports the ship-to country."""
    codes = parse_codes(value)
    bad = sorted(c for c in codes if not _COUNTRY.fullmatch(c))
    if bad:
        raise ValueError(
            f"{', '.join(map(repr, bad))}: not a two-letter country code (e.g. DE, AT)"
        )
    return codes


def _range(values: dict) -> dict[str, str]:
    """min must not exceed max: such a rule would exclude every order."""
    low, high = values.get("min"), values.get("max")
    if low is not None and high is not None and low > high:
        return {"max": f"{high:g} is below min {low:g}"}
    return {}


F = ParamField
_FLAG = "flag"
MARKETPLACES = Params(
    "Marketplace is one of",
    {"marketplaces": parse_codes},
    fields=[F("marketplaces", "Marketplaces", "marketplaces")],
)
FULFILMENT = Params(
    "Fulfilment channel",
    {"fulfillment": _fulfillment},
    fields=[
        F(
            "fulfillment",
            "Fulfilment",
            "choice",
            (("FBA", "FBA (Amazon ships)"), ("FBM", "FBM (you ship)")),
        )
    ],
)


def _products(label: str, what: str, example: str) -> Params:
    return Params(
        label,
        {"values": parse_codes},
        fields=[
            F("values", what, "codes", hint=f"one per line or comma-separated, e.g. {example}")
        ],
    )


PRODUCTS = {
    ("sku", True): _products("SKU is one of", "SKUs", "MUG-1, LAMP-2"),
    ("sku", False): _products("SKU is not", "SKUs", "MUG-1, LAMP-2"),
    ("asin", True): _products("ASIN is one of", "ASINs", "B0C1234567"),
    ("asin", False): _products("ASIN is not", "ASINs", "B0C1234567"),
}
ORDER_TOTAL = Params(
    "Order total between",
    {"min": _number, "max": _number},
    _range,
    fields=[F("min", "From (order currency)", "number"), F("max", "To", "number")],
)
ITEM_COUNT = Params(
    "Item count between",
    {"min": _whole, "max": _whole},
    _range,
    fields=[F("min", "From (items)", "whole"), F("max", "To", "whole")],
)
BUYER_TYPE = Params(
    "First-time or repeat buyer",
    {"type": _buyer_type},
    fields=[
        F(
            "type",
            "Buyer",
            "choice",
            (("first", "first-time buyer"), ("repeat", "repeat buyer")),
        )
    ],
)
FLAGS = {
    "is_business": Params(
        "Business order", {"value": _flag}, fields=[F("value", "Business order", _FLAG)]
    ),
    "is_prime": Params("Prime order", {"value": _flag}, fields=[F("value", "Prime order", _FLAG)]),
    "shipped_late": Params(
        "Shipped late", {"value": _flag}, fields=[F("value", "Shipped late", _FLAG)]
    ),
}
SHIP_COUNTRY = Params(
    "Ship-to country",
    {"include": _countries, "exclude": _countries},
    fields=[
        F("include", "Only to", "codes", hint="two-letter country codes, e.g. DE, AT"),
        F("exclude", "Not to", "codes", hint="e.g. CH"),
    ],
)
PLACED_AFTER = Params(
    "Order placed after", {"date": _date}, fields=[F("date", "Placed after (UTC)", "date")]
)
NO_PARAMS = {
    name: Params(label, {})
    for name, label in (
        ("not_cancelled_returned_refunded", "Not cancelled, returned or refunded"),
        ("buyer_not_blocked", "Buyer not opted out or blocklisted"),
        ("no_negative_feedback", "No negative feedback"),
    )
}


def _marketplaces_validator(engine):
    """``validate`` for marketplace_in: the spec, then every code must be a marketplace
    Followup knows (a typo would silently exclude the orders the seller meant)."""

    def validate(params):
        problems = MARKETPLACES.problems(params)
        known = set(engine.marketplaces)
        if "marketplaces" not in problems and known:
            unknown = sorted(parse_codes((params or {}).get("marketplaces")) - known)
            if unknown:
                problems["marketplaces"] = (
                    f"unknown marketplace{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join(unknown)}; known: {', '.join(sorted(known))}"
                )
        return problems

    return validate


def marketplace_in(engine, order, params):
    allowed = MARKETPLACES.parse(params)["marketplaces"]
    if allowed and order.marketplace.upper() not in allowed:
        return f"rule: marketplace {order.marketplace} not in {', '.join(sorted(allowed))}"
    return None


def marketplace_in_sql(q, params):
    values = MARKETPLACES.parse_or_none(params)
    if values is None:
        return None
    allowed = values["marketplaces"]
    if not allowed:
        return []
    reason = q.concat(
        "rule: marketplace ", q.o.marketplace, f" not in {', '.join(sorted(allowed))}"
    )
    return [(fn.UPPER(q.o.marketplace).not_in(sorted(allowed)), reason)]


def fulfillment_is(engine, order, params):
    wanted = FULFILMENT.parse(params)["fulfillment"]
    if wanted and order.fulfillment != wanted:
        return f"rule: fulfilment is {order.fulfillment}, campaign wants {wanted}"
    return None


def fulfillment_is_sql(q, params):
    values = FULFILMENT.parse_or_none(params)
    if values is None:
        return None
    wanted = values["fulfillment"]
    if not wanted:
        return []
    reason = q.concat("rule: fulfilment is ", q.o.fulfillment, f", campaign wants {wanted}")
    return [(q.o.fulfillment != wanted, reason)]


def _product_rule(field: str, include: bool):
    label = field.upper()
    spec = PRODUCTS[field, include]

    def check(engine, order, params):
        listed = spec.parse(params)["values"]
        if not listed:
            return None
        have = {getattr(i, field).upper() for i in order_items(order)}
        if include and not (have & listed):
            return f"rule: {label} not in campaign ({', '.join(sorted(have)) or 'no items'})"
        if not include and (have & listed):
            return f"rule: {label} {', '.join(sorted(have & listed))} is excluded"
        return None

    return check


def _product_sql(field: str, include: bool):
    """The SQL form of ``_product_rule``: the same reasons, item codes sorted and joined."""
    label = field.upper()
    spec = PRODUCTS[field, include]

    def sql(q, params):
        values = spec.parse_or_none(params)
        if values is None:
            return None
        listed = sorted(values["values"])
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
    values = ORDER_TOTAL.parse(params)
    low, high = values["min"], values["max"]
    if low is not None and order.total < low:
        return f"rule: order total {order.total:.2f} below {low:.2f}"
    if high is not None and order.total > high:
        return f"rule: order total {order.total:.2f} above {high:.2f}"
    return None


def order_total_sql(q, params):
    values = ORDER_TOTAL.parse_or_none(params)
    if values is None:
        return None
    low, high = values["min"], values["max"]
    out = []
    if low is None and high is None:
        return out
    if q.has_rounding_ties(Order.total):
        return None  # rounding ties print differently in SQL: plan in Python
    if low is not None:
        reason = q.concat("rule: order total ", q.money(q.o.total), f" below {low:.2f}")
        out.append((q.o.total < low, reason))
    if high is not None:
        reason = q.concat("rule: order total ", q.money(q.o.total), f" above {high:.2f}")
        out.append((q.o.total > high, reason))
    return out


def item_count(engine, order, params):
    values = ITEM_COUNT.parse(params)
    low, high = values["min"], values["max"]
    if low is not None and order.item_count < low:
        return f"rule: {order.item_count} items, fewer than {low}"
    if high is not None and order.item_count > high:
        return f"rule: {order.item_count} items, more than {high}"
    return None


def item_count_sql(q, params):
    values = ITEM_COUNT.parse_or_none(params)
    if values is None:
        return None
    low, high = values["min"], values["max"]
    out = []
    if low is not None:
        reason = q.concat("rule: ", q.text(q.o.item_count), f" items, fewer than {low}")
        out.append((q.o.item_count < low, reason))
    if high is not None:
        reason = q.concat("rule: ", q.text(q.o.item_count), f" items, more than {high}")
        out.append((q.o.item_count > high, reason))
    return out


def buyer_type(engine, order, params):
    """first: the buyer's first order with this seller; repeat: any later one."""
    wanted = BUYER_TYPE.parse(params)["type"]
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
    values = BUYER_TYPE.parse_or_none(params)
    if values is None:
        return None
    wanted = values["type"]
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
    spec = FLAGS[attr]

    def check(engine, order, params):
        wanted = spec.parse(params)["value"]
        if wanted is None:
            return None
        if bool(getattr(order, attr)) != wanted:
            return f"rule: {label} is {'yes' if getattr(order, attr) else 'no'}"
        return None

    return check


def _flag_sql(attr: str, label: str):
    spec = FLAGS[attr]

    def sql(q, params):
        values = spec.parse_or_none(params)
        if values is None:
            return None
        wanted = values["value"]
        if wanted is None:
            return []
        # Failing means the flag is the opposite of ``wanted``: the reason is a constant.
        return [(getattr(q.o, attr) != wanted, f"rule: {label} is {'no' if wanted else 'yes'}")]

    return sql


def ship_country(engine, order, params):
    values = SHIP_COUNTRY.parse(params)
    include, exclude = values["include"], values["exclude"]
    country = (order.ship_country or "").upper()
    if include and country not in include:
        return f"rule: ships to {country or 'unknown country'}, not {', '.join(sorted(include))}"
    if country in exclude:
        return f"rule: ships to {country}, which is excluded"
    return None


def ship_country_sql(q, params):
    values = SHIP_COUNTRY.parse_or_none(params)
    if values is None:
        return None
    include, exclude = values["include"], values["exclude"]
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
    start_dt = PLACED_AFTER.parse(params)["date"]
    if start_dt is None:
        return None
    if order.purchased_at < start_dt:
        return f"rule: placed {order.purchased_at:%Y-%m-%d}, before {start_dt:%Y-%m-%d}"
    return None


def placed_after_sql(q, params):
    values = PLACED_AFTER.parse_or_none(params)
    if values is None:
        return None
    start_dt = values["date"]
    if start_dt is None:
        return []
    reason = q.concat("rule: placed ", q.date(q.o.purchased_at), f", before {start_dt:%Y-%m-%d}")
    return [(q.o.purchased_at < start_dt, reason)]


def not_cancelled_returned_refunded(engine, order, params):
    NO_PARAMS["not_cancelled_returned_refunded"].parse(params)
    unwanted = order.unwanted_event()
    if unwanted:
        kind, when = unwanted
        return f"excluded: {kind} on {when:%Y-%m-%d}"
    return None


def not_cancelled_returned_refunded_sql(q, params):
    if NO_PARAMS["not_cancelled_returned_refunded"].parse_or_none(params) is None:
        return None
    return [q.unwanted()]


def no_negative_feedback(engine, order, params):
    NO_PARAMS["no_negative_feedback"].parse(params)
    if order.negative_feedback:
        return "rule: buyer left negative feedback on this order"
    return None


def no_negative_feedback_sql(q, params):
    if NO_PARAMS["no_negative_feedback"].parse_or_none(params) is None:
        return None
    return [(q.o.negative_feedback == True, "rule: buyer left negative feedback on this order")]  # noqa: E712


def buyer_not_blocked(engine, order, params):
    NO_PARAMS["buyer_not_blocked"].parse(params)
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
    if NO_PARAMS["buyer_not_blocked"].parse_or_none(params) is None:
        return None
    kind = q.optout_kind()  # NULL without a buyer key or a row
    listed = Case(kind, [("opt_out", "opt-out list")], "blocklist")
    reason = q.concat("excluded: buyer is on the ", listed)
    return [(kind.is_null(False), reason)]


@hookimpl
def register_rules(engine):
    def rule(name, label, check, params_help, sql, spec: Params, validate=None):
        return Rule(name, label, check, params_help, sql, validate or spec.problems, spec.fields)

    return [
        rule(
            "marketplace_in",
            MARKETPLACES.label,
            marketplace_in,
            "marketplaces: US DE",
            marketplace_in_sql,
            MARKETPLACES,
            _marketplaces_validator(engine),
        ),
        rule(
            "fulfillment",
            FULFILMENT.label,
            fulfillment_is,
            "fulfillment: FBA or FBM",
            fulfillment_is_sql,
            FULFILMENT,
        ),
        *(
            rule(
                f"{field}_{'include' if include else 'exclude'}",
                spec.label,
                _product_rule(field, include),
                "values: MUG-1 LAMP-2" if field == "sku" else "values: B0C1234567 B0D7654321",
                _product_sql(field, include),
                spec,
            )
            for (field, include), spec in PRODUCTS.items()
        ),
        rule(
            "order_total",
            ORDER_TOTAL.label,
            order_total_range,
            "min: 10; max: 99.50",
            order_total_sql,
            ORDER_TOTAL,
        ),
        rule(
            "item_count",
            ITEM_COUNT.label,
            item_count,
            "min: 1; max: 3",
            item_count_sql,
            ITEM_COUNT,
        ),
        rule(
            "buyer_type",
            BUYER_TYPE.label,
            buyer_type,
            "type: first or repeat",
            buyer_type_sql,
            BUYER_TYPE,
        ),
        *(
            rule(
                name,
                FLAGS[attr].label,
                _flag_rule(attr, label),
                "value: yes or no",
                _flag_sql(attr, label),
                FLAGS[attr],
            )
            for name, attr, label in (
                ("business", "is_business", "business order"),
                ("prime", "is_prime", "Prime"),
                ("shipped_late", "shipped_late", "shipped late"),
            )
        ),
        rule(
            "ship_country",
            SHIP_COUNTRY.label,
            ship_country,
            "include: DE AT; exclude: CH",
            ship_country_sql,
            SHIP_COUNTRY,
        ),
        rule(
            "placed_after",
            PLACED_AFTER.label,
            placed_after,
            "date: 2026-01-31",
            placed_after_sql,
            PLACED_AFTER,
        ),
        rule(
            "not_cancelled_returned_refunded",
            NO_PARAMS["not_cancelled_returned_refunded"].label,
            not_cancelled_returned_refunded,
            "",
            not_cancelled_returned_refunded_sql,
            NO_PARAMS["not_cancelled_returned_refunded"],
        ),
        rule(
            "buyer_not_blocked",
            NO_PARAMS["buyer_not_blocked"].label,
            buyer_not_blocked,
            "",
            buyer_not_blocked_sql,
            NO_PARAMS["buyer_not_blocked"],
        ),
        rule(
            "no_negative_feedback",
            NO_PARAMS["no_negative_feedback"].label,
            no_negative_feedback,
            "",
            no_negative_feedback_sql,
            NO_PARAMS["no_negative_feedback"],
        ),
    ]
