"""The plugin contract: every hook a plugin may implement.

Conventions (shared by every hook below):

* Hooks are synchronous and called with keyword arguments; an implementation may accept
  any subset of them (pluggy passes only the names it declares).
* Returning ``None`` means "not mine": the core moves on to the next plugin.
* ``register_*`` hooks are called once at engine start and return lists of objects with
  unique ``name`` attributes; two plugins registering the same name is a startup error.
* Hooks that exactly one plugin answers are ``firstresult=True`` and say so.
* Hooks that receive an ``order`` (or a ``marketplace``) are called only on plugins
  enabled for that order's marketplace (``[plugins.marketplaces]`` in config.toml and the
  Plugins page): a plugin enabled for DE is never consulted for a US order.
* Reasons are plain strings a seller can read; they are what the order trace shows.

The value types (``Trigger``, ``Rule``, ``Sender`` ...) live in ``core.contracts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # the types only; importing them for real would be a cycle
    from .compliance import ContentCheck
    from .contracts import (
        Attachment,
        DeliveryWindow,
        Job,
        Marketplace,
        OrderSource,
        Preset,
        Rule,
        Sender,
        SendResult,
        SettingsPage,
        TimeWindow,
        Trigger,
    )
    from .engine import Engine
    from .models import Message, Order, Step

hookspec = pluggy.HookspecMarker("followup")
hookimpl = pluggy.HookimplMarker("followup")

STEP_SCOPE_ATTR = "followup_for_steps"


def for_steps(applies):
    """Declare that a ``send_vetoes`` or ``adjust_send_time`` implementation answers only
    for the steps where ``applies(engine, step)`` is true, and ``None`` for every other.

    Optional, and a promise: the set-based re-plan (``core.planning_bulk``) plans the other
    steps in SQL instead of order by order in Python, as if the plugin were not there. An
    implementation without it is assumed to concern every step. Use it under ``@hookimpl``::

        @hookimpl
        @for_steps(lambda engine, step: step.message_type == "invoice")
        def send_vetoes(engine, message, order): ...
    """

    def mark(function):
        setattr(function, STEP_SCOPE_ATTR, applies)
        return function

    return mark


# Names of the hooks that are filtered per marketplace by the engine.
PER_MARKETPLACE_HOOKS = frozenset(
    {
        "delivery_window",
        "review_request_window",
        "adjust_send_time",
        "invoice_url",
        "message_attachments",
        "template_context",
        "send_vetoes",
        "message_sent",
        "message_failed",
        "default_sequences",
        "register_content_checks",
    }
)


@hookspec
def register_marketplaces(engine: Engine) -> list[Marketplace]:
    """Declare the marketplaces (storefronts) this plugin knows.

    Called from ``Engine.__init__`` (once, at start): ``engine.marketplaces``.

    :param engine: the running ``core.engine.Engine``.
    :returns: a list of ``core.contracts.Marketplace``; codes must be unique across plugins.
    """


@hookspec
def register_triggers(engine: Engine) -> list[Trigger]:
    """Declare order events a campaign step can start from.

    Called from ``Engine.__init__``: ``engine.triggers``, read by planning (``core.planning``)
    and the step editor.

    :param engine: the running engine.
    :returns: a list of ``core.contracts.Trigger`` (ordered, shipped, delivered, ... are
        registered by ``core.default_triggers``).
    """


@hookspec
def register_rules(engine: Engine) -> list[Rule]:
    """Declare filters a campaign step can apply to an order.

    Called from ``Engine.__init__``: ``engine.rules``; ``check`` runs in ``core.decide``,
    ``validate`` in ``core.campaigns``.

    :param engine: the running engine.
    :returns: a list of ``core.contracts.Rule``; each ``check`` answers ``None`` or a reason.
        Give each rule a ``validate(params)`` answering ``{param: what is wrong}`` (or
        ``None``) for the parameters a seller typed, parsed exactly as ``check`` parses
        them, unknown keys included: a step is refused at save and a campaign at
        activation while it has problems, so a bad value never reaches planning.
    """


@hookspec
def register_senders(engine: Engine) -> list[Sender]:
    """Declare channels that deliver messages (Request a Review, Messaging API, email...).

    Called from ``Engine.__init__``: ``engine.senders``; ``send`` runs in ``core.dispatch``.

    :param engine: the running engine.
    :returns: a list of ``core.contracts.Sender``. The dry-run sender is in ``core``.
    """


@hookspec
def register_order_sources(engine: Engine) -> list[OrderSource]:
    """Declare where orders come from (an API, a report file, demo data).

    Called from ``Engine.__init__``: ``engine.sources``; fetched by ``core.sync``.

    :param engine: the running engine.
    :returns: a list of ``core.contracts.OrderSource``; a seller account names one.
    """


@hookspec
def register_jobs(engine: Engine) -> list[Job]:
    """Declare periodic background jobs (order sync, eligibility re-checks...).

    Called from ``Engine.__init__``: ``engine.jobs``; run by the worker's tick (``core.tasks``).

    :param engine: the running engine.
    :returns: a list of ``core.contracts.Job``; the worker runs each on its schedule.
    """


@hookspec
def register_settings_pages(engine: Engine) -> list[SettingsPage]:
    """Declare a plugin's settings form, shown per marketplace on the Plugins page.

    Called from ``Engine.__init__``: the Plugins page and ``engine.plugin_setting``.

    :param engine: the running engine.
    :returns: a list of ``core.contracts.SettingsPage``; values are read back with
        ``engine.plugin_setting(plugin, key, marketplace)``.
    """


@hookspec
def register_content_checks(engine: Engine, marketplace: str | None) -> list[ContentCheck]:
    """Contribute compliance-linter rules, possibly different per marketplace.

    Called from ``engine.content_checks(marketplace)``: the linter (``core.compliance``) at
    compose, preview and activation.

    :param engine: the running engine.
    :param marketplace: the marketplace code being linted for, or ``None`` for all.
    :returns: a list of ``core.compliance.ContentCheck`` with stable ``rule_id`` values.
    """


@hookspec(firstresult=True)
def delivery_window(engine: Engine, order: Order) -> DeliveryWindow | None:
    """Say when an order is (or was) expected to arrive.

    Called from ``engine.delivery_window(order)``: triggers, the review window, placeholders.

    firstresult: the first plugin that answers decides.

    :param engine: the running engine.
    :param order: a ``core.models.Order``.
    :returns: ``core.contracts.DeliveryWindow`` (``confirmed`` False for estimates) or
        ``None`` when this plugin cannot tell.
    """


@hookspec(firstresult=True)
def review_request_window(engine: Engine, order: Order) -> TimeWindow | None:
    """Say when a review may be requested for an order.

    Called from ``engine.review_window(order)``: ``core.due`` (anchor), the review vetoes.

    firstresult: the first plugin that answers decides.

    :param engine: the running engine.
    :param order: a ``core.models.Order``.
    :returns: ``core.contracts.TimeWindow`` (opens, closes; UTC) or ``None``.
    """


@hookspec(firstresult=True)
def adjust_send_time(
    engine: Engine, order: Order, step: Step, due_at: datetime
) -> tuple[datetime, str] | None:
    """Move a planned message's due time (good local hour, public holidays...).

    Called from ``engine.adjust_send_time``: ``core.due``, at planning and at each re-plan.

    firstresult: the first plugin that answers decides.

    :param engine: the running engine.
    :param order: a ``core.models.Order``.
    :param step: the ``core.models.Step`` being planned.
    :param due_at: the naive-UTC datetime the core computed (anchor + delay, in window).
    :returns: ``(new_due_at, reason)`` or ``None`` to keep ``due_at``.

    An implementation that only moves some steps (review requests, say) should say so
    with ``@for_steps``: a full re-plan then keeps every other step set-based.
    """


@hookspec
def default_sequences(engine: Engine, marketplace: str, fulfillment: str) -> list[Preset]:
    """Offer preset campaigns a seller can create in one click.

    Called from ``engine.presets``: the new-campaign page.

    :param engine: the running engine.
    :param marketplace: marketplace code, e.g. ``"DE"``.
    :param fulfillment: ``"FBA"`` or ``"FBM"``.
    :returns: a list of ``core.contracts.Preset``.
    """


@hookspec(firstresult=True)
def invoice_url(engine: Engine, order: Order) -> str | None:
    """Give the link to the order's invoice (EU VAT), if the seller has one.

    Called from ``engine.invoice_url(order)``: ``core.compose`` (the ``invoice_link`` placeholder).

    firstresult: the first plugin that answers decides.

    :param engine: the running engine.
    :param order: a ``core.models.Order``.
    :returns: an https URL string or ``None``.
    """


@hookspec
def message_attachments(
    engine: Engine, order: Order, message: Message, step: Step
) -> list[Attachment] | None:
    """Contribute files to attach to a message (manuals, invoices, warranty).

    Called from ``engine.attachments``: ``core.compose``, before every send and preview.

    Results of all plugins are concatenated. Amazon allows only instructions, invoices
    and warranty documents as attachments (docs/amazon-rules.md §3); the sender enforces its
    channel's types and size limits. A file that is not there *yet* (an invoice still
    being produced) raises ``core.RetryLater``: the message shows ``retry`` with the reason
    and is tried again later, instead of going out without it.

    :param engine: the running engine.
    :param order: a ``core.models.Order``.
    :param message: the ``core.models.Message`` being composed.
    :param step: its ``core.models.Step``.
    :returns: a list of ``core.contracts.Attachment`` or ``None``.
    """


@hookspec
def template_context(
    engine: Engine, order: Order, message: Message | None
) -> dict[str, Any] | None:
    """Contribute placeholders to a message's template.

    Called from ``engine.template_context``: ``core.compose`` (sends and previews), the editors'
    palette.

    Results of all plugins are merged; two plugins giving the same key is an error.

    :param engine: the running engine.
    :param order: a ``core.models.Order`` (or a stand-in with example values for the
        editor's palette).
    :param message: the ``core.models.Message`` being rendered, or ``None`` in the editor.
    :returns: a dict of placeholder name -> value, or ``None``.
    """


@hookspec
def send_vetoes(engine: Engine, message: Message, order: Order) -> str | list[str] | None:
    """Forbid a send regardless of the campaign (Amazon's limits, opt-outs...).

    Called from ``engine.vetoes``: only ``core.decide`` (planning, the send-time re-check, dry
    run, send now).

    Every plugin is asked; any reason vetoes. Vetoes are checked at planning and again
    at send time, on fresh data, always through ``core.decide`` (after the step's rules).
    A reason starting with ``"waiting: "`` postpones the message (a day later, or after
    ``recheck_after`` seconds when it is a ``core.Waiting``); planning ignores those and
    plans anyway. Any other reason excludes the message for good, with that reason.

    :param engine: the running engine.
    :param message: the ``core.models.Message`` about to be sent (unsaved at planning).
    :param order: its ``core.models.Order``.
    :returns: a reason string, a list of reason strings, or ``None``.

    An implementation that only vetoes some steps (invoices, say) should say so with
    ``@for_steps``: a full re-plan then keeps every other step set-based.
    """


@hookspec
def message_sent(engine: Engine, message: Message, order: Order, result: SendResult) -> None:
    """Notification after a message was recorded as sent.

    Called from ``engine.notify_sent``: ``core.dispatch``, after the result is stored.

    :param engine: the running engine.
    :param message: the ``core.models.Message`` (state ``sent``).
    :param order: its ``core.models.Order``.
    :param result: the sender's ``core.contracts.SendResult``.
    :returns: ``None``.
    """


@hookspec
def message_failed(engine: Engine, message: Message, order: Order, error: str) -> None:
    """Notification after a send failed (retryable or permanent) or went in doubt.

    Called from ``engine.notify_failed``: ``core.dispatch``, after the state is stored.

    :param engine: the running engine.
    :param message: the ``core.models.Message`` (state ``retry``, ``failed`` or ``in_doubt``).
    :param order: its ``core.models.Order``.
    :param error: the error text recorded on the message.
    :returns: ``None``.
    """
