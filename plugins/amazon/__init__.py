"""The Amazon plugin: marketplaces, SP-API order sync, Request a Review and Messaging.

* ``amazon`` order source: Orders API sync (v2026-01-01, v0 fallback), the Reports API
  backfill, Seller Central's All Orders file import, and "test connection".
* Senders ``amazon_review`` (Solicitations) and ``amazon_messaging`` (Messaging API).
* Settings (``[plugin_settings.amazon]`` or the Plugins page): ``orders_api``,
  ``first_sync_days``, ``backfill_report``, ``transit_days``, ``timeout``, and for the
  sandbox or tests ``endpoint``, ``lwa_url`` and ``report_poll_seconds`` (how often the
  backfill asks whether the report is ready; 5 by default).
"""

from __future__ import annotations

from core import OrderSource, SettingField, SettingsPage, hookimpl, order_items

from .marketplaces import BY_CODE, MARKETPLACES
from .report import parse_file
from .senders import SENDERS
from .source import fetch, test_connection


def _import_file(engine, account, path):
    return parse_file(path)


@hookimpl
def register_marketplaces(engine):
    return list(MARKETPLACES)


@hookimpl
def register_order_sources(engine):
    return [
        OrderSource(
            "amazon",
            "Amazon Selling Partner API",
            fetch=fetch,
            import_file=_import_file,
            test_connection=test_connection,
        )
    ]


@hookimpl
def register_senders(engine):
    return list(SENDERS)


@hookimpl
def register_settings_pages(engine):
    return [
        SettingsPage(
            "amazon",
            "Amazon Selling Partner API",
            (
                SettingField(
                    "orders_api",
                    "Orders API version",
                    "choice",
                    "2026-01-01",
                    "v0 is deprecated by Amazon (migration deadline 2027-03-27)",
                    ("2026-01-01", "v0"),
                ),
                SettingField("first_sync_days", "Days read at the first sync", "int", 30),
                SettingField(
                    "backfill_report",
                    "First sync through the All Orders report",
                    "bool",
                    False,
                    "for large accounts",
                ),
                SettingField("timeout", "Request timeout (seconds)", "int", 20),
                SettingField(
                    "endpoint",
                    "API endpoint override",
                    "text",
                    "",
                    "empty = Amazon's regional endpoint",
                ),
                SettingField(
                    "lwa_url",
                    "Login with Amazon token URL",
                    "text",
                    "https://api.amazon.com/auth/o2/token",
                ),
            ),
            "Orders, Request a Review and buyer messages through Amazon's SP-API.",
        )
    ]


@hookimpl
def template_context(engine, order, message):
    """``review_link``: Amazon's own review page for the order's first product.

    A link to the marketplace's review form is the one link a review request needs;
    it is https and on Amazon's domain, so the linter allows it.
    """
    mkt = BY_CODE.get(order.marketplace)
    items = order_items(order)
    item = items[0] if items else None
    if mkt is None or item is None or not item.asin:
        return {"review_link": ""}
    return {"review_link": f"https://www.{mkt.name.lower()}/review/create-review?asin={item.asin}"}
