"""An example Followup plugin: one rule and one placeholder, through ``core`` only.

Install it next to Followup (``pip install examples/followup-example-plugin``) and either
name it in ``[plugins] enabled = [..., "example"]`` or leave ``[plugins] entrypoints =
true``: it is then found through its ``followup`` entry point. Nothing here imports
Followup's internals; everything a plugin needs is exported by ``core``.
"""

from core import Params, Rule, hookimpl


# The rule's parameters, parsed the same way at save time and at check time: a bad value
# is refused in the step editor with the field named, never at planning.
def _amount(value):
    if value is None or str(value).strip() == "":
        return None
    try:
        amount = float(str(value).replace(",", "."))
    except ValueError:
        raise ValueError(f"{value!r} is not an amount, e.g. 25 or 19.99") from None
    if amount < 0:
        raise ValueError("must be 0 or more")
    return amount


SPEC = Params("Order total at least", {"min_total": _amount})


def order_total_at_least(engine, order, params):
    """Exclude orders below a total; the reason is what the order's trace shows."""
    minimum = SPEC.parse(params)["min_total"]
    if minimum is not None and order.total < minimum:
        return f"rule: order total {order.total:.2f} is below {minimum:.2f}"
    return None


@hookimpl
def register_rules(engine):
    return [
        Rule(
            "order_total_at_least",
            "Order total at least",
            order_total_at_least,
            params_help="min_total: the smallest order total to message",
            validate=SPEC.problems,
        )
    ]


@hookimpl
def template_context(engine, order, message):
    # {{ shop_signature }} in any template: the seller's sign-off, per marketplace.
    signature = engine.plugin_setting("example", "signature", order.marketplace, "")
    return {"shop_signature": signature or "Your shop team"}
