"""Every hook in core/hookspecs.py, exercised through the engine with throw-away plugins."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import (
    Attachment,
    DeliveryWindow,
    Job,
    Marketplace,
    OrderSource,
    Preset,
    Rule,
    Sender,
    SendResult,
    SettingField,
    SettingsPage,
    TimeWindow,
    Trigger,
    hookimpl,
)
from core.clock import utcnow
from core.compliance import ContentCheck, Finding, LintInput
from core.dispatch import dispatch_due
from core.engine import PluginError
from core.models import (
    Campaign,
    Decision,
    Message,
    Order,
    SellerAccount,
    Step,
    Template,
    TemplateVariant,
    TemplateVersion,
)
from core.planning import plan_orders
from core.queue import make_huey
from core.store import store_orders
from core.sync import sync_account
from core.tasks import EngineQueue
from tests.conftest import order_data
from tests.support.campaigns import REVIEW_STEP


def store(engine, *datas):
    """Store ``datas`` as orders of a new demo seller account; the changed order ids."""
    account = SellerAccount.create(name="S", source="demo")
    result = store_orders(account, list(datas), "test", set(engine.marketplaces))
    assert not result.errors, result.errors
    return result.changed_ids


def campaign(step_kwargs=None, **kwargs):
    c = Campaign.create(name=kwargs.pop("name", "C"), status=kwargs.pop("status", "active"))
    values = dict(REVIEW_STEP, campaign=c, position=1, name="review")
    values.update(step_kwargs or {})
    return c, Step.create(**values)


class Recorder:
    """A sender plugin that records calls; its answer can be set per test."""

    def __init__(self, answer="sent"):
        self.answer = answer
        self.sent = []

    @hookimpl
    def register_senders(self, engine):
        def send(engine, message, order, rendered):
            self.sent.append((order.order_id, rendered))
            return SendResult(self.answer, f"recorder said {self.answer}")

        return [Sender("recorder", "Recorder", send, needs_body=False)]


def test_hook_register_marketplaces(make_engine):
    """A plugin's marketplace joins the built-in ones; a second plugin claiming an
    existing code is a start-up error."""

    class Extra:
        @hookimpl
        def register_marketplaces(self, engine):
            return [Marketplace("ZZ", "AZZZ", "EU", ("de",), "Europe/Vienna", "AT", "EUR", "Z")]

    engine = make_engine(extra_plugins=[("extra", Extra())])
    assert engine.marketplaces["ZZ"].timezone == "Europe/Vienna"

    class Dup:
        @hookimpl
        def register_marketplaces(self, engine):
            return [Marketplace("US", "X", "NA", ("en",), "UTC", "US", "USD")]

    with pytest.raises(PluginError, match="'US' is registered by both"):
        make_engine(extra_plugins=[("dup", Dup())])


def test_register_marketplaces_rejects_wrong_types(make_engine):
    class Bad:
        @hookimpl
        def register_marketplaces(self, engine):
            return ["US"]

    with pytest.raises(PluginError, match="plugin bad: register_marketplaces returned 'US'"):
        make_engine(extra_plugins=[("bad", Bad())])


def test_hook_register_triggers(make_engine):
    """A plugin's trigger fires from the order's events and plans the step's message."""

    class Review:
        @hookimpl
        def register_triggers(self, engine):
            return [Trigger("placed_plus", "Placed", lambda e, o, ev: ev.get("ordered"))]

    engine = make_engine(extra_plugins=[("t", Review())])
    ids = store(engine, order_data("US"))
    campaign({"trigger": "placed_plus", "message_type": ""})
    assert plan_orders(engine, ids).planned == 1


def test_hook_register_rules(make_engine):
    """A plugin's rule excludes the order, and its reason is the decision's."""

    class Never:
        @hookimpl
        def register_rules(self, engine):
            return [Rule("never", "Never", lambda e, o, p: "rule: never matches")]

    engine = make_engine(extra_plugins=[("never", Never())])
    ids = store(engine, order_data("US"))
    campaign({"rules": [{"rule": "never", "params": {}}]})
    assert plan_orders(engine, ids).excluded == 1
    assert Decision.get().reason == "rule: never matches"


def test_hook_register_senders(make_engine):
    """A plugin's sender is the one a step names: dispatch hands it the rendered text."""
    recorder = Recorder()
    engine = make_engine(extra_plugins=[("rec", recorder)])
    data = order_data("US", delivered_days_ago=6)
    ids = store(engine, data)
    campaign({"sender": "recorder"})
    plan_orders(engine, ids)
    dispatch_due(engine)
    assert [order_id for order_id, _ in recorder.sent] == [data.order_id]
    assert Message.get().state == "sent"


def test_hook_message_sent(make_engine):
    """Plugins hear of each message sent, with the sender's result."""
    seen = []
    recorder = Recorder()

    class Notified:
        @hookimpl
        def message_sent(self, engine, message, order, result):
            seen.append((order.order_id, result.status))

    engine = make_engine(extra_plugins=[("rec", recorder), ("notified", Notified())])
    data = order_data("US", delivered_days_ago=6)
    ids = store(engine, data)
    campaign({"sender": "recorder"})
    plan_orders(engine, ids)
    dispatch_due(engine)
    assert recorder.sent and recorder.sent[0][0] == data.order_id
    assert seen == [(data.order_id, "sent")]
    assert Message.get().state == "sent"


def test_hook_message_failed(make_engine):
    """Plugins hear of each permanent failure, with the sender's error."""
    errors = []

    class Notified:
        @hookimpl
        def message_failed(self, engine, message, order, error):
            errors.append(error)

    engine = make_engine(extra_plugins=[("rec", Recorder("failed")), ("n", Notified())])
    ids = store(engine, order_data("US", delivered_days_ago=6))
    campaign({"sender": "recorder"})
    plan_orders(engine, ids)
    dispatch_due(engine)
    assert errors == ["recorder said failed"]
    assert Message.get().state == "failed"


def test_hook_register_order_sources(make_engine):
    """A sync of an account reads its orders from the plugin's source and stores them."""
    data = order_data("DE")

    class Source:
        @hookimpl
        def register_order_sources(self, engine):
            return [OrderSource("mine", "Mine", fetch=lambda e, a, since, progress: [data])]

    engine = make_engine(extra_plugins=[("src", Source())])
    account = SellerAccount.create(name="S", source="mine")
    result = sync_account(engine, account.id)
    assert result.created == 1
    assert Order.get().order_id == data.order_id
    assert SellerAccount.get_by_id(account.id).sync_cursor is not None


def test_hook_register_jobs(make_engine):
    """A plugin's job runs on the minute tick, once per interval."""
    runs = []

    class Jobs:
        @hookimpl
        def register_jobs(self, engine):
            return [Job("count", 3600, lambda e: runs.append(1))]

    engine = make_engine(extra_plugins=[("jobs", Jobs())])
    runtime = EngineQueue(engine, make_huey(engine.settings, immediate=True))
    runtime.run_tick()
    runtime.run_tick()  # not again within its interval
    assert runs == [1]


def test_hook_register_settings_pages(make_engine):
    """A page's fields give defaults, overridden per marketplace by stored values."""

    class Page:
        @hookimpl
        def register_settings_pages(self, engine):
            return [SettingsPage("pg", "Page", (SettingField("hour", "Hour", "int", 10),))]

    engine = make_engine(extra_plugins=[("pg", Page())])
    assert engine.plugin_setting("pg", "hour", "DE") == 10
    engine.set_plugin_setting("pg", "hour", 8, "DE")
    assert engine.plugin_setting("pg", "hour", "DE") == 8
    assert engine.plugin_setting("pg", "hour", "US") == 10


def test_hook_register_content_checks(make_engine):
    """A plugin's content check lints only the marketplaces the plugin is enabled for."""

    def shout(inp: LintInput):
        if "!!!" in inp.text:
            i = inp.text.index("!!!")
            yield Finding("X-SHOUT", "error", i, i + 3, "!!!", "no shouting", "house rule")

    class Checks:
        @hookimpl
        def register_content_checks(self, engine, marketplace):
            return [ContentCheck("X-SHOUT", "error", shout, "no shouting", "house rule")]

    engine = make_engine(
        extra_plugins=[("checks", Checks())], **{"plugins.marketplaces": {"checks": ["DE"]}}
    )
    assert "X-SHOUT" in {c.rule_id for c in engine.content_checks("DE")}
    assert "X-SHOUT" not in {c.rule_id for c in engine.content_checks("US")}


def test_hook_delivery_window(make_engine):
    """A plugin's delivery estimate is the order's delivery window."""

    class Windows:
        @hookimpl
        def delivery_window(self, engine, order):
            start = order.purchased_at + timedelta(days=2)
            return DeliveryWindow(start, start + timedelta(days=1), False, "windows plugin")

    engine = make_engine(extra_plugins=[("w", Windows())])
    store(engine, order_data("US", delivered_days_ago=None))
    order = Order.get()
    window = engine.delivery_window(order)
    assert window.source == "windows plugin" and not window.confirmed
    assert window.earliest == order.purchased_at + timedelta(days=2)


def test_hook_review_request_window(make_engine):
    """A plugin's review window replaces the default one for the order."""

    class Windows:
        @hookimpl
        def review_request_window(self, engine, order):
            return TimeWindow(order.purchased_at, order.purchased_at + timedelta(days=60), "w")

    engine = make_engine(extra_plugins=[("w", Windows())])
    store(engine, order_data("US", delivered_days_ago=None))
    order = Order.get()
    assert engine.review_window(order).opens == order.purchased_at
    assert engine.review_window(order).closes == order.purchased_at + timedelta(days=60)


def test_default_windows_follow_amazons_review_rule(engine):
    store(engine, order_data("US", delivered_days_ago=3))
    order = Order.get()
    window = engine.review_window(order)
    assert window.opens == order.earliest_delivery + timedelta(days=5)
    assert window.closes == order.latest_delivery + timedelta(days=30)


def test_hook_adjust_send_time(make_engine):
    """A plugin moves a planned message's due time and its reason reaches the trace."""

    class Timing:
        @hookimpl
        def adjust_send_time(self, engine, order, step, due_at):
            return due_at + timedelta(days=2), "timing: two days later"

    engine = make_engine(extra_plugins=[("timing", Timing())])
    ids = store(engine, order_data("US", delivered_days_ago=1))
    campaign({"message_type": ""})
    plan_orders(engine, ids)
    assert "timing: two days later" in Decision.get().reason
    assert Message.get().due_at > utcnow() + timedelta(hours=20)


def test_hook_default_sequences(make_engine):
    """Presets from plugins are offered for the marketplace and fulfilment asked."""

    class Presets:
        @hookimpl
        def default_sequences(self, engine, marketplace, fulfillment):
            return [Preset(f"p-{marketplace}", "P", marketplace, fulfillment, ({"trigger": "x"},))]

    engine = make_engine(extra_plugins=[("presets", Presets())])
    assert [p.name for p in engine.presets("DE", "FBA")] == ["p-DE"]


def test_hook_invoice_url(make_engine):
    """The order's invoice link comes from the plugin that knows it."""

    class Vat:
        @hookimpl
        def invoice_url(self, engine, order):
            return f"https://invoices.example/{order.order_id}.pdf"

    engine = make_engine(extra_plugins=[("vat", Vat())])
    store(engine, order_data("DE"))
    order = Order.get()
    assert engine.invoice_url(order) == f"https://invoices.example/{order.order_id}.pdf"


def test_hook_template_context(make_engine):
    """A plugin's placeholders join the core's own in the template context."""

    class Vat:
        @hookimpl
        def invoice_url(self, engine, order):
            return f"https://invoices.example/{order.order_id}.pdf"

        @hookimpl
        def template_context(self, engine, order, message):
            return {"invoice_link": engine.invoice_url(order)}

    engine = make_engine(extra_plugins=[("vat", Vat())])
    store(engine, order_data("DE"))
    order = Order.get()
    context = engine.template_context(order, None)
    assert context["invoice_link"] == f"https://invoices.example/{order.order_id}.pdf"
    assert context["order_id"] == order.order_id  # the core's own placeholders too


def test_template_context_duplicate_key_is_an_error(make_engine):
    class Clash:
        @hookimpl
        def template_context(self, engine, order, message):
            return {"order_id": "mine"}

    engine = make_engine(extra_plugins=[("clash", Clash())])
    store(engine, order_data("US"))
    with pytest.raises(PluginError, match="'order_id' given twice"):
        engine.template_context(Order.get(), None)


def test_hook_message_attachments(make_engine):
    """A plugin's attachment reaches the sender with the rendered message."""
    recorder = Recorder()

    class Manual:
        @hookimpl
        def message_attachments(self, engine, order, message, step):
            return [Attachment("manual.pdf", "application/pdf", b"%PDF-1.4", "instructions")]

    engine = make_engine(extra_plugins=[("rec", recorder), ("manual", Manual())])
    ids = store(engine, order_data("US", delivered_days_ago=2))
    template = Template.create(name="Manual", channel="messaging", message_type="x")
    version = TemplateVersion.create(template=template, number=1)
    TemplateVariant.create(
        version=version,
        language="en",
        body="Order {{ order_id }}: the manual for your {{ product_title }} is attached.",
    )
    engine.senders["recorder"] = Sender("recorder", "R", engine.senders["recorder"].send)
    campaign({"sender": "recorder", "message_type": "", "template": template})
    plan_orders(engine, ids)
    dispatch_due(engine)
    ((_, rendered),) = recorder.sent
    assert rendered.attachments[0].filename == "manual.pdf"
    assert "the manual for your Test product" in rendered.text


def test_hook_send_vetoes(make_engine):
    """A veto postpones (waiting) or excludes a message, with its reason."""

    class Veto:
        @hookimpl
        def send_vetoes(self, engine, message, order):
            if order.marketplace == "DE":
                return "waiting: warehouse closed"
            if order.marketplace == "JP":
                return ["excluded: not in Japan"]
            return None

    engine = make_engine(extra_plugins=[("veto", Veto())])
    ids = store(engine, *(order_data(m, delivered_days_ago=6) for m in ("US", "DE", "JP")))
    campaign()
    result = plan_orders(engine, ids)
    assert (result.planned, result.excluded) == (2, 1)
    dispatch_due(engine)
    states = {m.order.marketplace: (m.state, m.reason) for m in Message.select()}
    assert states["US"][0] == "sent"
    assert states["DE"] == ("scheduled", "waiting: warehouse closed")


def test_plugin_enabled_for_de_is_never_consulted_for_us(make_engine):
    asked = []

    class DeOnly:
        @hookimpl
        def send_vetoes(self, engine, message, order):
            asked.append(order.marketplace)

    engine = make_engine(
        extra_plugins=[("de_only", DeOnly())], **{"plugins.marketplaces": {"de_only": ["DE"]}}
    )
    ids = store(engine, order_data("US"), order_data("DE"))
    campaign({"message_type": ""})
    plan_orders(engine, ids)
    assert asked == ["DE"]
    # and the per-marketplace toggle in the database turns it off for DE too
    engine.set_plugin_setting("de_only", "enabled", False, "DE")
    asked.clear()
    plan_orders(engine, ids)
    assert asked == []
