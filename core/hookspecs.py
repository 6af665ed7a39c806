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

import pluggy

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
def register_marketplaces(engine):
    """Declare the marketplaces (storefronts) this plugin knows.

    :param engine: the running ``core.engine.Engine``.
    :returns: a list of ``core.contracts.Marketplace``; codes must be unique across plugins.
    """


@hookspec
def register_triggers(engine):
    """Declare order events a campaign step can start from.

    :param engine: the running engine.
    :returns: a list of ``core.contracts.Trigger`` (ordered, shipped, delivered, ... are
        registered by ``core.default_triggers``).
    """


@hookspec
def register_rules(engine):
    """Declare filters a campaign step can apply to an order.

    :param engine: the running engine.
    :returns: a list of ``core.contracts.Rule``; each ``check`` answers ``None`` or a reason.
        Give each rule a ``validate(params)`` answering ``{param: what is wrong}`` (or
        ``None``) for the parameters a seller typed, parsed exactly as ``check`` parses
        them, unknown keys included: a step is refused at save and a campaign at
        activation while it has problems, so a bad value never reaches planning.
    """


@hookspec
def register_senders(engine):
    """Declare channels that deliver messages (Request a Review, Messaging API, email...).

    :param engine: the running engine.
    :returns: a list of ``core.contracts.Sender``. The dry-run sender is in ``core``.
    """


@hookspec
def register_order_sources(engine):
    """Declare where orders come from (an API, a report file, demo data).

    :param engine: the running engine.
    :returns: a list of ``core.contracts.OrderSource``; a seller account names one.
    """


@hookspec
def register_jobs(engine):
    """Declare periodic background jobs (order sync, eligibility re-checks...).

    :param engine: the running engine.
    :returns: a list of ``core.contracts.Job``; the worker runs each on its schedule.
    """


@hookspec
def register_settings_pages(engine):
    """Declare a plugin's settings form, shown per marketplace on the Plugins page.

    :param engine: the running engine.
    :returns: a list of ``core.contracts.SettingsPage``; values are read back with
        ``engine.plugin_setting(plugin, key, marketplace)``.
    """


@hookspec
def register_content_checks(engine, marketplace):
    """Contribute compliance-linter rules, possibly different per marketplace.

    :param engine: the running engine.
    :param marketplace: the marketplace code being linted for, or ``None`` for all.
    :returns: a list of ``core.compliance.ContentCheck`` with stable ``rule_id`` values.
    """


@hookspec(firstresult=True)
def delivery_window(engine, order):
    """Say when an order is (or was) expected to arrive.

    firstresult: the first plugin that answers decides.

    :param engine: the running engine.
    :param order: a ``core.models.Order``.
    :returns: ``core.contracts.DeliveryWindow`` (``confirmed`` False for estimates) or
        ``None`` when this plugin cannot tell.
    """


@hookspec(firstresult=True)
def review_request_window(engine, order):
    """Say when a review may be requested for an order.

    firstresult: the first plugin that answers decides.

    :param engine: the running engine.
    :param order: a ``core.models.Order``.
    :returns: ``core.contracts.TimeWindow`` (opens, closes; UTC) or ``None``.
    """


@hookspec(firstresult=True)
def adjust_send_time(engine, order, step, due_at):
    """Move a planned message's due time (good local hour, public holidays...).

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
def default_sequences(engine, marketplace, fulfillment):
    """Offer preset campaigns a seller can create in one click.

    :param engine: the running engine.
    :param marketplace: marketplace code, e.g. ``"DE"``.
    :param fulfillment: ``"FBA"`` or ``"FBM"``.
    :returns: a list of ``core.contracts.Preset``.
    """


@hookspec(firstresult=True)
def invoice_url(engine, order):
    """Give the link to the order's invoice (EU VAT), if the seller has one.

    firstresult: the first plugin that answers decides.

    :param engine: the running engine.
    :param order: a ``core.models.Order``.
    :returns: an https URL string or ``None``.
    """


@hookspec
def message_attachments(engine, order, message, step):
    """Contribute files to attach to a message (manuals, invoices, warranty).

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
def template_context(engine, order, message):
    """Contribute placeholders to a message's template.

    Results of all plugins are merged; two plugins giving the same key is an error.

    :param engine: the running engine.
    :param order: a ``core.models.Order`` (or a stand-in with example values for the
        editor's palette).
    :param message: the ``core.models.Message`` being rendered, or ``None`` in the editor.
    :returns: a dict of placeholder name -> value, or ``None``.
    """


@hookspec
def send_vetoes(engine, message, order):
    """Forbid a send regardless of the campaign (Amazon's limits, opt-outs...).

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
def message_sent(engine, message, order, result):
    """Notification after a message was recorded as sent.

    :param engine: the running engine.
    :param message: the ``core.models.Message`` (state ``sent``).
    :param order: its ``core.models.Order``.
    :param result: the sender's ``core.contracts.SendResult``.
    :returns: ``None``.
    """


@hookspec
def message_failed(engine, message, order, error):
    """Notification after a send failed (retryable or permanent) or went in doubt.

    :param engine: the running engine.
    :param message: the ``core.models.Message`` (state ``retry``, ``failed`` or ``in_doubt``).
    :param order: its ``core.models.Order``.
    :param error: the error text recorded on the message.
    :returns: ``None``.
    """
