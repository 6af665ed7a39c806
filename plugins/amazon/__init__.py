"""The Amazon plugin: marketplaces, SP-API order sync, Request a Review and Messaging.

* ``amazon`` order source: Orders API sync (v2026-01-01, v0 fallback), the Reports API
  backfill, Seller Central's All Orders file import, and "test connection".
* Senders ``amazon_review`` (Solicitations) and ``amazon_messaging`` (Messaging API).
* Settings (``[plugin_settings.amazon]`` or the Plugins page): ``orders_api``,
  ``first_sync_days``, ``backfill_report``, ``transit_days``, ``timeout``, and for the
  sandbox or tests ``endpoint``, ``lwa_url`` and ``report_poll_seconds`` (how often the
  backfill asks whether the report is ready; 5 by default), ``feedback_hours`` (how
  often seller feedback is read; 0 = never).
* Seller feedback (``feedback``): a periodic job reads Amazon's seller-feedback report
  per account; a review request is vetoed after negative feedback on its order.
"""

from __future__ import annotations

from core import Job, OrderSource, SettingField, SettingsPage, for_steps, hookimpl, order_items

from . import feedback
from .connect import check_credentials
from .endpoints import endpoint_problem, lwa_url_problem
from .marketplaces import BY_CODE, MARKETPLACES
from .report import parse_file
from .senders import SENDERS
from .source import check_connection, fetch


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
            test_connection=check_connection,
            check_credentials=check_credentials,
        )
    ]


@hookimpl
def register_senders(engine):
    return list(SENDERS)


@hookimpl
def register_jobs(engine):
    """Seller feedback, read hourly at most; each account every ``feedback_hours``."""
    return [Job("amazon_feedback", 3600, feedback.run)]


@hookimpl
@for_steps(feedback.vetoes_step)
def send_vetoes(engine, message, order):
    """No review request after negative seller feedback on the order."""
    if not message.review_request:
        return None
    return feedback.negative_feedback_veto(order)


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
                SettingField(
                    "first_sync_days",
                    "Days read at the first sync",
                    "int",
                    30,
                    "1 to 730",
                    minimum=1,
                    maximum=730,
                ),
                SettingField(
                    "backfill_report",
                    "First sync through the All Orders report",
                    "bool",
                    False,
                    "for large accounts",
                ),
                SettingField(
                    "timeout",
                    "Request timeout (seconds)",
                    "int",
                    20,
                    "1 to 300",
                    minimum=1,
                    maximum=300,
                ),
                SettingField(
                    "feedback_hours",
                    "Read seller feedback every (hours)",
                    "int",
                    feedback.FEEDBACK_HOURS,
                    "0 = never; a review request is never sent after negative feedback",
                    minimum=0,
                    maximum=720,
                ),
                SettingField(
                    "endpoint",
                    "API endpoint override",
                    "text",
                    "",
                    "empty = Amazon's regional endpoint; otherwise an Amazon SP-API host "
                    "(https://sellingpartnerapi-eu.amazon.com, a sandbox. host). Changing it "
                    "means entering each account's secrets again.",
                    check=endpoint_problem,
                    guards_secrets=True,
                ),
                SettingField(
                    "lwa_url",
                    "Login with Amazon token URL",
                    "text",
                    "https://api.amazon.com/auth/o2/token",
                    "Login with Amazon's token URL. Changing it means entering each "
                    "account's secrets again.",
                    check=lwa_url_problem,
                    guards_secrets=True,
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
