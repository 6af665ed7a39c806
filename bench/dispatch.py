"""Dispatcher overhead per message: claim, re-check, compose, record (dry-run sender).

The dry-run sender does no I/O, so the time per message is the dispatcher's own cost
(target: under 5 ms, so senders run at their API's allowed rate).
"""

from __future__ import annotations

import os
import time

from core.models import Order

from .data import add_campaigns, fill_orders, make_engine


def run() -> dict:
    from core.dispatch import dispatch_due
    from core.planning import plan_orders

    count = int(os.environ.get("BENCH_DISPATCH", 2_000))
    from core.models import Step, Template, TemplateVariant, TemplateVersion

    engine = make_engine()
    fill_orders(count)
    (step,) = add_campaigns(1)
    # A real text message, so the figure includes rendering and the compliance linter.
    template = Template.create(name="Manual", channel="messaging", message_type="x")
    version = TemplateVersion.create(template=template, number=1)
    TemplateVariant.create(
        version=version,
        language="en",
        body=(
            "Hello, thank you for your order {{ order_id }} of {{ product_title }}.\n"
            "Here is how to set it up: unpack it, charge it for two hours, then hold the "
            "power button for three seconds.\n{{ contact_instruction }}"
        ),
    )
    Step.update(template=template, message_type="product_instructions").where(
        Step.id == step.id
    ).execute()
    plan_orders(engine, [o.id for o in Order.select(Order.id)])
    start = time.perf_counter()
    result = dispatch_due(engine, limit=100, rounds=10_000)
    elapsed = time.perf_counter() - start
    engine.close()
    sent = result.states.get("sent", 0)
    return {
        "messages": result.claimed,
        "sent": sent,
        "states": result.states,
        "seconds": round(elapsed, 3),
        "ms_per_message": round(1000 * elapsed / max(1, result.claimed), 3),
        "target_ms": 5.0,
    }
