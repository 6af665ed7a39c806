"""Campaign steps as ``core.campaigns.create_campaign`` takes them, a product-instructions
text that passes the compliance checks, and the step editor's form as a browser sends it."""

from __future__ import annotations

from core.models import Step

# Request a Review on delivery, at once, through the dry-run sender.
REVIEW_STEP = dict(
    name="Request a review",
    trigger="delivered",
    delay_days=0,
    sender="dry_run",
    message_type="review_request",
    window_start_hour=0,
    window_end_hour=24,
)
# Product instructions a day after delivery, through the dry-run sender.
INSTRUCTIONS_STEP = dict(
    REVIEW_STEP, name="Product instructions", delay_days=1, message_type="product_instructions"
)
INSTRUCTIONS_TEXT = (
    "Order {{ order_id }}: here is how to set up your {{ product_title }}. Fill the tank "
    "with water before the first use and press the start button for three seconds."
)
PUSHY_TEXT = INSTRUCTIONS_TEXT + " If you like it, please leave a 5-star review."


def step_form(step: Step, **changes) -> dict:
    """The editor's form as a browser would submit it for ``step``, with ``changes``."""
    data = {
        "name": step.name,
        "trigger": step.trigger,
        "anchor": step.anchor,
        "delay_days": str(step.delay_days),
        "delay_hours": str(step.delay_hours),
        "window_start_hour": str(step.window_start_hour),
        "window_end_hour": str(step.window_end_hour),
        "weekdays": list(step.weekdays),
        "sender": step.sender,
        "message_type": step.message_type,
        "priority": str(step.priority),
        "no_variant_policy": step.no_variant_policy,
        "template": str(step.template_id or ""),
        "holdout_percent": str(step.holdout_percent),
        "rule": [""],
        "variant_template": ["", ""],
        "variant_weight": ["1", "1"],
    }
    data.update(changes)
    return data
