"""EU VAT invoices: the seller's own invoice PDF, attached to the order's invoice message.

For orders in the EU and UK marketplaces (UK, DE, FR, IT, ES, NL, SE, PL, BE, IE; the
plugin refuses to be enabled for any other), per marketplace:

* ``message_attachments``: for an *invoice step* (message type ``sendInvoice`` or
  ``invoice``, or a template of that type such as the library's "Invoice"), the invoice is
  taken from the seller's source (a URL template or a folder of PDFs, see ``sources``),
  checked (exists, is a PDF, within the size limit) and attached as kind ``invoice``. It
  leaves through the Messaging API's ``sendInvoice`` (``amazon_messaging``) or as an email
  attachment (``email``). Amazon allows invoices as attachments (docs/amazon-rules.md §3).
* A missing invoice (HTTP 404, no file in the folder, not a PDF, too big) raises
  ``RetryLater``: the message shows ``retry`` with "waiting: invoice for … not found at …
  (HTTP 404); next check …" and is tried again every ``recheck_hours`` until
  ``[dispatch] max_attempts`` or the 30-day completion limit ends it with a clear reason.
* ``send_vetoes``: an invoice step waits while no source is set or the order has not
  shipped, and follows the ``order_states`` setting (shipped only / delivered only / both).
* ``invoice_url`` and ``template_context``: ``{{ invoice_link }}`` (the https address of
  the invoice, when the source is an https URL; the only kind of link Amazon allows is a
  secure one needed to complete the order) and ``{{ company_name }}``,
  ``{{ company_address }}``, ``{{ vat_id }}``.
* ``register_settings_pages``: the per-marketplace form (keys in ``config.FIELDS``).
* ``default_sequences``: a one-click "VAT invoice when shipped" campaign per EU/UK
  marketplace, through the Messaging API's ``sendInvoice``.
"""

from __future__ import annotations

import logging

from core import (
    LIBRARY_LANGUAGES,
    Attachment,
    Preset,
    RetryLater,
    SettingsPage,
    Template,
    for_steps,
    hookimpl,
)

from .config import FIELDS, PLUGIN, InvoiceSettings, serves, settings_for, validate
from .sources import InvoiceMissing, fill, get_invoice

log = logging.getLogger(__name__)

# Step/template message types that mean "this message carries the invoice".
INVOICE_TYPES = frozenset({"sendInvoice", "invoice"})
# Shown in the template editor's palette until the seller fills in the settings.
EXAMPLES = {
    "company_name": "Nordlicht GmbH",
    "company_address": "Beispielstraße 1, 10115 Berlin, Germany",
    "vat_id": "DE123456789",
}


def is_invoice_step(step) -> bool:
    """True when ``step`` sends an invoice (its message type, else its template's)."""
    if step is None:
        return False
    if step.message_type:
        return step.message_type in INVOICE_TYPES
    if not step.template_id:
        return False
    template = Template.get_or_none(Template.id == step.template_id)
    return template is not None and (
        template.message_type in INVOICE_TYPES or template.library_key == "invoice"
    )


def invoice_link(cfg: InvoiceSettings, order_id: str) -> str | None:
    """The invoice's https address for the buyer, or None (folder source, or plain http)."""
    if cfg.source_kind != "url" or not cfg.source.lower().startswith("https://"):
        return None
    try:
        return fill(cfg.source, order_id, cfg.marketplace, for_url=True)
    except InvoiceMissing:
        return None


def order_state_problem(cfg: InvoiceSettings, order) -> str | None:
    """Why an invoice step should not go out now, per the ``order_states`` setting."""
    events = order.event_times()
    delivered = events.get("delivered")
    shipped = events.get("shipped") or order.shipped_at or delivered
    if not shipped:
        return "waiting: the invoice is sent once the order has shipped"
    if cfg.order_states == "shipped" and delivered:
        return (
            f"excluded: in {cfg.marketplace} invoices go only to orders shipped and not yet "
            f"delivered (eu_vat setting order_states); delivered {delivered:%Y-%m-%d}"
        )
    if cfg.order_states == "delivered" and not delivered:
        return (
            f"waiting: in {cfg.marketplace} the invoice is sent once the order is delivered "
            "(eu_vat setting order_states)"
        )
    return None


@hookimpl
def register_settings_pages(engine):
    return [
        SettingsPage(
            PLUGIN,
            "EU VAT invoices",
            FIELDS,
            description=(
                "Attach your own VAT invoice (PDF) to the order's invoice message in the EU "
                "and UK marketplaces, from your invoicing system's web address or a folder. "
                "A missing invoice is retried, not skipped."
            ),
            validate=validate,
        )
    ]


@hookimpl
def invoice_url(engine, order):
    if not serves(order.marketplace):
        return None
    return invoice_link(settings_for(engine, order.marketplace), order.order_id)


@hookimpl
def template_context(engine, order, message):
    marketplace = getattr(order, "marketplace", None)
    if not serves(marketplace):
        return None
    cfg = settings_for(engine, marketplace)
    values = {
        "invoice_link": invoice_link(cfg, order.order_id) or "",
        "company_name": cfg.company_name,
        "company_address": cfg.company_address,
        "vat_id": cfg.vat_id,
    }
    if getattr(order, "id", None) is None:
        # The editor's stand-in order: show an example where the seller set nothing yet.
        values = {k: v or EXAMPLES.get(k, "") for k, v in values.items()}
    return values


@hookimpl
@for_steps(lambda engine, step: is_invoice_step(step))
def send_vetoes(engine, message, order):
    if not serves(order.marketplace) or not message.step_id:
        return None
    if not is_invoice_step(message.step):
        return None
    cfg = settings_for(engine, order.marketplace)
    if not cfg.source:
        return (
            f"waiting: no invoice source is set for {order.marketplace} "
            "(Plugins page, EU VAT invoices)"
        )
    return order_state_problem(cfg, order)


@hookimpl
def message_attachments(engine, order, message, step):
    if not serves(order.marketplace) or not is_invoice_step(step):
        return None
    if message is None or getattr(message, "id", None) is None:
        return None  # editor previews and campaign dry runs never download invoices
    cfg = settings_for(engine, order.marketplace)
    try:
        invoice = get_invoice(cfg, order.order_id)
    except InvoiceMissing as exc:
        log.info("message %s: %s", message.id, exc.reason)
        raise RetryLater(exc.reason, cfg.recheck_seconds) from None
    log.info(
        "message %s: invoice for %s from %s (%d bytes)",
        message.id,
        order.order_id,
        invoice.where,
        len(invoice.data),
    )
    return [Attachment(invoice.filename, "application/pdf", invoice.data, kind="invoice")]


# The Messaging API sender and the library template a preset step uses (by name: plugins
# never import each other).
MESSAGING_SENDER = "amazon_messaging"
LIBRARY_TEMPLATE = "invoice"


@hookimpl
def default_sequences(engine, marketplace, fulfillment):
    if not serves(marketplace) or MESSAGING_SENDER not in engine.senders:
        return None
    step = dict(
        name="Send the VAT invoice",
        trigger="shipped",
        delay_hours=2,
        window_start_hour=8,
        window_end_hour=20,
        sender=MESSAGING_SENDER,
        message_type="invoice",
        template=LIBRARY_TEMPLATE,
        priority=3,
    )
    mkt = engine.marketplace(marketplace)
    missing = [lang for lang in (mkt.languages if mkt else ()) if lang not in LIBRARY_LANGUAGES]
    note = (
        f" The template library has no {', '.join(missing)} text yet: add that variant to "
        "the Invoice template, or buyers in that language are skipped."
        if missing
        else ""
    )
    return [
        Preset(
            f"eu-vat-invoice-{fulfillment.lower()}-{marketplace.lower()}",
            f"{fulfillment} {marketplace}: VAT invoice when shipped",
            marketplace,
            fulfillment,
            (step,),
            "Two hours after the order ships, your invoice PDF (EU VAT invoices settings: "
            "web address or folder) is sent through Amazon's Messaging API (sendInvoice). "
            "While the invoice is not there yet, the message waits and is retried." + note,
        )
    ]
