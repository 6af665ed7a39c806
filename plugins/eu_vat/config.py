"""The eu_vat plugin's settings, per marketplace, and the values it refuses.

Every key is a ``SettingField`` on the plugin's settings page (Plugins page, one form per
marketplace) and can be given for all marketplaces in ``[plugin_settings.eu_vat]``.
``validate`` is the page's guard: the engine calls it before storing a value, and a
refused ``enabled`` keeps the plugin off for that marketplace.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import ATTACHMENT_MAX_BYTES, SettingField

PLUGIN = "eu_vat"

# Marketplaces whose buyers are owed a VAT invoice (EU VAT / UK VAT rules): the only ones
# this plugin serves.
EU_VAT_MARKETPLACES = ("UK", "DE", "FR", "IT", "ES", "NL", "SE", "PL", "BE", "IE")

# Amazon's limit for attachments in Buyer-Seller Messaging by email is 10 MB per message
# (docs/amazon-rules.md §2.3). The Messaging API model (sendInvoice via the Uploads API)
# documents no number, only a 413 "request size exceeded"; we apply the same 10 MB there,
# so an invoice that is too big is never uploaded. A seller may set a lower limit, never
# a higher one.
AMAZON_MAX_MB = ATTACHMENT_MAX_BYTES // 2**20  # the file library's limit: one number for both

SOURCE_KINDS = ("url", "folder")
# Which order states get an invoice. "shipped": shipped and not yet delivered;
# "delivered": once delivered; "shipped_delivered": either (the default).
ORDER_STATES = ("shipped_delivered", "shipped", "delivered")

FIELDS = (
    SettingField(
        "enabled",
        "Send EU VAT invoices in this marketplace",
        kind="bool",
        default=True,
        help="Only for " + ", ".join(EU_VAT_MARKETPLACES) + ".",
    ),
    SettingField(
        "source_kind",
        "Where your invoices are",
        kind="choice",
        default="url",
        choices=SOURCE_KINDS,
        help="url: your invoicing system serves each invoice at a web address; "
        "folder: a folder of PDF files named by order id (302-1234567-1234567.pdf).",
    ),
    SettingField(
        "source",
        "Invoice address or folder",
        help="A URL template such as https://invoices.example/{marketplace}/{order_id}.pdf, "
        "or a folder such as /srv/invoices/{marketplace}. An https address is also offered "
        "to templates as {{ invoice_link }}.",
    ),
    SettingField(
        "order_states",
        "Send the invoice for orders that are",
        kind="choice",
        default="shipped_delivered",
        choices=ORDER_STATES,
        help="shipped_delivered: shipped or delivered; shipped: shipped and not yet "
        "delivered; delivered: delivered only. Unshipped orders always wait.",
    ),
    SettingField("company_name", "Company name", help="Placeholder {{ company_name }}."),
    SettingField(
        "company_address",
        "Company address",
        kind="textarea",
        help="Placeholder {{ company_address }}.",
    ),
    SettingField("vat_id", "VAT ID", help="e.g. DE123456789; placeholder {{ vat_id }}."),
    SettingField(
        "max_size_mb",
        "Largest invoice accepted (MB)",
        kind="int",
        default=AMAZON_MAX_MB,
        help=f"At most {AMAZON_MAX_MB}: Amazon's attachment limit.",
    ),
    SettingField(
        "timeout_seconds", "Download timeout (seconds)", kind="int", default=20, help="1 to 120."
    ),
    SettingField(
        "recheck_hours",
        "Look again for a missing invoice after (hours)",
        kind="int",
        default=24,
        help="A missing invoice is retried until [dispatch] max_attempts is used up or the "
        "30-day limit after delivery passes.",
    ),
)

_INT_RANGES = {
    "max_size_mb": (1, AMAZON_MAX_MB),
    "timeout_seconds": (1, 120),
    "recheck_hours": (1, 24 * 30),
}


def serves(marketplace: str | None) -> bool:
    """True for the EU/UK marketplaces this plugin works in."""
    return marketplace in EU_VAT_MARKETPLACES


def truthy(value) -> bool:
    """A bool setting as stored by a form ("on", "1", "true") or by config (True)."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "on", "yes"}
    return bool(value)


def validate(key: str, value, marketplace: str) -> str | None:
    """None when ``value`` is acceptable for ``key``, else the reason it is refused."""
    if key == "enabled":
        if truthy(value) and marketplace and not serves(marketplace):
            return (
                f"EU VAT invoices apply only to the EU and UK marketplaces "
                f"({', '.join(EU_VAT_MARKETPLACES)}); {marketplace} is not one of them"
            )
        return None
    if key == "source_kind" and value not in SOURCE_KINDS:
        return f"source_kind must be one of {', '.join(SOURCE_KINDS)}"
    if key == "order_states" and value not in ORDER_STATES:
        return f"order_states must be one of {', '.join(ORDER_STATES)}"
    if key == "source":
        return _source_problem(str(value or "").strip())
    if key in _INT_RANGES:
        low, high = _INT_RANGES[key]
        try:
            number = int(value)
        except (TypeError, ValueError):
            return f"{key} must be a whole number"
        if not low <= number <= high:
            return f"{key} must be between {low} and {high}"
    return None


def _source_problem(source: str) -> str | None:
    if not source:
        return None  # clearing it is allowed: invoice steps then wait for a source
    if "://" in source:
        if not source.lower().startswith(("http://", "https://")):
            return "the invoice address must start with https:// (or http:// on your network)"
        if "{order_id}" not in source:
            return "the invoice address must contain {order_id}, e.g. …/{order_id}.pdf"
        return None
    if not source.startswith("/"):
        return "the invoice folder must be an absolute path, e.g. /srv/invoices/{marketplace}"
    return None


@dataclass(frozen=True)
class InvoiceSettings:
    """One marketplace's settings, read and coerced once per use."""

    marketplace: str
    source_kind: str
    source: str
    order_states: str
    company_name: str
    company_address: str
    vat_id: str
    max_bytes: int
    timeout: float
    recheck_seconds: float


def _int(values: dict, key: str) -> int:
    value = values.get(key)
    low, high = _INT_RANGES[key]
    default = next(f.default for f in FIELDS if f.key == key)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = default
    return max(low, min(high, number))


def settings_for(engine, marketplace: str) -> InvoiceSettings:
    """The settings in force for ``marketplace`` (marketplace value, else all-marketplace)."""

    values = engine.plugin_settings(PLUGIN, marketplace)  # one query, not one per key

    def text(key: str) -> str:
        return str(values.get(key) or "").strip()

    kind = text("source_kind") or "url"
    states = text("order_states") or "shipped_delivered"
    return InvoiceSettings(
        marketplace=marketplace,
        source_kind=kind if kind in SOURCE_KINDS else "url",
        source=text("source"),
        order_states=states if states in ORDER_STATES else "shipped_delivered",
        company_name=text("company_name"),
        company_address=text("company_address"),
        vat_id=text("vat_id"),
        max_bytes=_int(values, "max_size_mb") * 1024 * 1024,
        timeout=float(_int(values, "timeout_seconds")),
        recheck_seconds=_int(values, "recheck_hours") * 3600.0,
    )
