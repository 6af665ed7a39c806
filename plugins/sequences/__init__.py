"""sequences: ready-made FBA and FBM campaigns per marketplace.

* ``default_sequences``: the presets of ``plugins.sequences.presets`` for a marketplace and
  FBA/FBM; a seller creates a draft campaign from one in one click
  (``core.campaigns.create_from_preset``), edits it, then activates it.
* ``sku_list`` rule: "the order has a SKU on the bulky / customized / manual list". The
  list is the rule's own ``values`` or, when empty, the marketplace's list on the
  Sequences settings page. An empty list matches nothing, so a preset never messages
  every buyer before the seller said which products need it.
"""

from __future__ import annotations

from core import (
    OrderItem,
    ParamField,
    Params,
    Rule,
    SettingField,
    SettingsPage,
    hookimpl,
    parse_codes,
)

from .presets import LISTS, presets_for

PLUGIN = "sequences"


# SKUs from a list or a text with commas, spaces or one per line (upper-cased), parsed as
# the core's own SKU rules parse theirs.
skus = parse_codes


def _list_name(value) -> str:
    """The SKU list a rule names; ``ValueError`` for any other."""
    name = str(value or "").strip()
    if name not in LISTS:
        raise ValueError(f"unknown SKU list {name!r} (one of {', '.join(LISTS)})")
    return name


# The rule's parameters, read as core reads its own rules' (same wording for a typo).
SKU_LIST = Params(
    "SKU list",
    {"list": _list_name, "values": skus},
    fields=[
        ParamField("list", "List", "choice", tuple((name, name) for name in LISTS)),
        ParamField("values", "SKUs", "codes", hint="empty: the list in the Sequences settings"),
    ],
)


def sku_list(engine, order, params):
    """``None`` when an item of ``order`` is on the named list, else the reason."""
    try:
        name = _list_name(params.get("list"))
    except ValueError as exc:
        return f"rule: {exc}"  # a reason, not an error: the order plainly is on no list
    listed = skus(params.get("values")) or skus(
        engine.plugin_setting(PLUGIN, f"{name}_skus", order.marketplace)
    )
    if not listed:
        return f"rule: no SKUs on the '{name}' list yet ({PLUGIN} settings for {order.marketplace})"
    have = {i.sku.upper() for i in OrderItem.select(OrderItem.sku).where(OrderItem.order == order)}
    if have & listed:
        return None
    return f"rule: {', '.join(sorted(have)) or 'no items'} not on the '{name}' list"


@hookimpl
def default_sequences(engine, marketplace, fulfillment):
    mkt = engine.marketplace(marketplace)
    if mkt is None:
        return []
    return presets_for(mkt, fulfillment, engine.senders)


@hookimpl
def register_rules(engine):
    return [
        Rule(
            "sku_list",
            "SKU is on a list (bulky, customized, manual)",
            sku_list,
            "list: bulky, customized or manual; values: SKUs (empty: the Sequences settings)",
            validate=SKU_LIST.problems,
            fields=SKU_LIST.fields,
        )
    ]


@hookimpl
def register_settings_pages(engine):
    return [
        SettingsPage(
            PLUGIN,
            "Preset sequences",
            tuple(
                SettingField(
                    f"{name}_skus",
                    f"SKUs: {what}",
                    "textarea",
                    "",
                    "One SKU per line (or separated by commas). Used by the preset steps "
                    f"that apply to the '{name}' list.",
                )
                for name, what in LISTS.items()
            ),
            "Which of your products the FBA and FBM presets' messages are for.",
        )
    ]
