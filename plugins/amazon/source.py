"""Order sync through the Orders API, the Reports backfill, and "test connection".

Incremental by last-updated time: the core passes ``since`` (its cursor minus the overlap
window) and advances the cursor only after everything yielded here was stored. Orders
API v2026-01-01 ``searchOrders`` is the default (``includedData`` FULFILLMENT and
PACKAGES give package status, hence confirmed FBM deliveries); v0 ``getOrders`` plus
``getOrderItems`` is the configurable fallback (plugin setting ``orders_api = "v0"``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import defaultdict
from datetime import UTC, timedelta

import httpx
from sp_api.api import Orders, Reports, Sellers
from sp_api.base import SellingApiException, SellingApiForbiddenException

from core import utcnow

from .client import AmazonError, call, error_text, make_client
from .connect import ORDERS_ROLE, missing_role_text, missing_roles
from .mapping import MappingError, from_v0, from_v2026
from .marketplaces import BY_CODE
from .report import ReportError, parse_file

log = logging.getLogger(__name__)

FIRST_SYNC_DAYS = 30
REPORT_TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
# searchOrders datasets: status and packages (confirmed FBM deliveries), order total.
INCLUDED = ["FULFILLMENT", "PACKAGES", "PROCEEDS"]


def _iso(when) -> str:
    return when.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _by_region(account) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for code in account.marketplaces or []:
        mkt = BY_CODE.get(code)
        if mkt is None:
            raise AmazonError("region", f"account {account.name}: unknown marketplace {code!r}")
        if account.region and mkt.region != account.region:
            raise AmazonError(
                "region",
                f"account {account.name}: {code} is in region {mkt.region}, the account is "
                f"{account.region}; connect a separate {mkt.region} account for it",
            )
        groups[mkt.region].append(code)
    return groups


def _transit(engine) -> dict:
    return dict(engine.plugin_setting("amazon", "transit_days", default={}) or {})


def fetch(engine, account, since, progress):
    """Yield every order of the account's marketplaces updated after ``since``.

    The first sync of an account (``since`` is None) reads ``first_sync_days`` back; with
    ``backfill_report`` on, it reads them through the All Orders report instead, which
    suits large accounts (one report instead of thousands of pages at 0.0056 req/s).
    """
    first = since is None
    days = int(engine.plugin_setting("amazon", "first_sync_days", default=FIRST_SYNC_DAYS))
    since = since or (utcnow() - timedelta(days=days))
    if first and engine.plugin_setting("amazon", "backfill_report", default=False):
        yield from backfill(engine, account, since, progress)
        return
    version = engine.plugin_setting("amazon", "orders_api", default="2026-01-01")
    done = 0
    rejected: list[str] = []
    looped: list[str] = []
    for codes in _by_region(account).values():
        mids = [BY_CODE[c].marketplace_id for c in codes]
        pages = _v0_pages if version == "v0" else _v2026_pages
        for batch in _role_named(pages(engine, account, codes[0], mids, since, looped)):
            for order in batch:
                if isinstance(order, MappingError):
                    rejected.append(str(order))
                    continue
                done += 1
                yield order
            progress(done, None, f"{done} orders read")
    if looped:
        # Also only after every order read was stored; the cursor stays put, so what the
        # loop hid is asked for again at the next sync.
        raise AmazonError(
            "malformed",
            f"warning: {looped[0]}; stopped reading there: the orders read so far are "
            "stored, the rest is asked for again at the next sync",
        )
    if rejected:
        # Raised only after every readable order was yielded (and stored): the account
        # shows the problem, the sync cursor stays put so the unreadable orders are read
        # again next time rather than skipped for good.
        more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
        raise AmazonError(
            "malformed",
            f"{len(rejected)} order(s) could not be read: {rejected[0]}{more}",
        )


def _repeated(seen: set, token: str | None, operation: str, looped: list[str]) -> bool:
    """Whether ``token`` was already followed: Amazon handing out a pagination token a
    second time would page forever, so reading stops there and the account says so."""
    if not token:
        return False
    if token in seen:
        text = f"Amazon repeated the pagination token of {operation} ({token[:40]})"
        log.warning(text)
        looped.append(text)
        return True
    seen.add(token)
    return False


def _role_named(pages):
    """A 403 on reading orders means the app lacks the role that allows it: say which."""
    try:
        yield from pages
    except SellingApiForbiddenException as exc:
        raise AmazonError("role", missing_role_text(ORDERS_ROLE, exc)) from exc


def _v2026_pages(engine, account, code, mids, since, looped):
    client = make_client(engine, account, Orders, code, version="2026-01-01")
    token = None
    seen: set[str] = set()
    transit = _transit(engine)
    while True:
        # includedData on every page: a page asked for without it comes back without
        # fulfillment status and packages, i.e. without any delivery information.
        kwargs = (
            {"paginationToken": token, "marketplaceIds": mids}
            if token
            else {"lastUpdatedAfter": _iso(since), "marketplaceIds": mids}
        )
        kwargs["includedData"] = INCLUDED
        response = call(account, "searchOrders", client.search_orders, **kwargs)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("orders"), list):
            raise AmazonError("malformed", "searchOrders answered without an orders list")
        yield [_map(from_v2026, raw, transit) for raw in payload["orders"]]
        token = (payload.get("pagination") or {}).get("nextToken") or response.next_token
        if not token or _repeated(seen, token, "searchOrders", looped):
            return


def _v0_pages(engine, account, code, mids, since, looped):
    client = make_client(engine, account, Orders, code, version="v0")
    token = None
    seen: set[str] = set()
    transit = _transit(engine)
    while True:
        kwargs = (
            {"NextToken": token}
            if token
            else {
                "LastUpdatedAfter": _iso(since),
                "MarketplaceIds": mids,
            }
        )
        response = call(account, "getOrders", client.get_orders, **kwargs)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("Orders"), list):
            raise AmazonError("malformed", "getOrders answered without an Orders list")
        batch = []
        for raw in payload["Orders"]:
            items = _v0_items(account, client, raw.get("AmazonOrderId", ""), looped)
            batch.append(_map(from_v0, raw, transit, items))
        yield batch
        token = payload.get("NextToken") or response.next_token
        if not token or _repeated(seen, token, "getOrders", looped):
            return


def _v0_items(account, client, order_id: str, looped: list[str]) -> list[dict]:
    """Every item of a v0 order (getOrderItems pages by NextToken)."""
    items: list[dict] = []
    token = None
    seen: set[str] = set()
    while True:
        kwargs = {"NextToken": token} if token else {}
        response = call(account, "getOrderItems", client.get_order_items, order_id, **kwargs)
        payload = response.payload if isinstance(response.payload, dict) else {}
        if not isinstance(payload.get("OrderItems"), list):
            raise AmazonError("malformed", f"getOrderItems for {order_id} has no OrderItems")
        items.extend(payload["OrderItems"])
        token = payload.get("NextToken")
        if not token or _repeated(seen, token, f"getOrderItems for {order_id}", looped):
            return items


def _map(mapper, raw, transit, *extra):
    """An ``OrderData``, or the ``MappingError`` naming the order and field: one bad
    order must not stop the others of its page from being stored."""
    try:
        return mapper(raw, *extra, transit) if extra else mapper(raw, transit)
    except MappingError as exc:
        return exc


MAX_REPORT_POLLS = 120  # then the report is given up on and the sync says so


def backfill(engine, account, since, progress):
    """First import of a large account through the All Orders report (Reports API)."""
    poll_seconds = float(engine.plugin_setting("amazon", "report_poll_seconds", default=5.0))
    for codes in _by_region(account).values():
        client = make_client(engine, account, Reports, codes[0])
        created = call(
            account,
            "createReport",
            client.create_report,
            reportType=REPORT_TYPE,
            dataStartTime=_iso(since),
            marketplaceIds=[BY_CODE[c].marketplace_id for c in codes],
            write=True,
        )
        report_id = (created.payload or {}).get("reportId")
        if not report_id:
            raise AmazonError("malformed", "createReport answered without a reportId")
        document_id = None
        for n in range(MAX_REPORT_POLLS):
            report = call(account, "getReport", client.get_report, report_id).payload or {}
            status = report.get("processingStatus")
            progress(0, None, f"report {status or '?'} ({n + 1})")
            if status == "DONE":
                document_id = report.get("reportDocumentId")
                break
            if status in ("CANCELLED", "FATAL"):
                raise AmazonError("server", f"Amazon could not build the report ({status})")
            time.sleep(poll_seconds)
        if not document_id:
            raise AmazonError("timeout", "the orders report was not ready in time")
        document = (
            call(account, "getReportDocument", client.get_report_document, document_id).payload
            or {}
        )
        if not document.get("url"):
            raise AmazonError("malformed", "getReportDocument answered without a url")
        # The presigned URL needs no credentials; the document may be gzip-compressed.
        # It is streamed to a temporary file and parsed from there line by line, so a
        # year of orders never sits in memory (parse_file detects the compression).
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "report.tsv")
            with httpx.stream("GET", document["url"], timeout=120) as response:
                if response.status_code != 200:
                    raise AmazonError(
                        "server",
                        f"downloading the orders report failed (HTTP {response.status_code})",
                    )
                with open(path, "wb") as fh:
                    for chunk in response.iter_bytes(1 << 16):
                        fh.write(chunk)
            try:
                yield from parse_file(path)
            except ReportError as exc:
                raise AmazonError("malformed", f"the orders report: {exc}") from exc


def check_connection(engine, account) -> str | None:
    """A cheap call that says exactly what is wrong, or None when all is well."""
    try:
        groups = _by_region(account)
        for codes in groups.values():
            client = make_client(engine, account, Sellers, codes[0])
            response = call(
                account, "getMarketplaceParticipations", client.get_marketplace_participation
            )
            allowed = {(p.get("marketplace") or {}).get("id") for p in (response.payload or [])}
            missing = [c for c in codes if BY_CODE[c].marketplace_id not in allowed]
            if missing:
                return (
                    f"the seller does not sell in {', '.join(missing)} with these "
                    "credentials (wrong region or marketplace?)"
                )
        for codes in groups.values():
            missing = missing_roles(engine, account, codes[0])
            if missing:
                return missing
    except AmazonError as exc:
        return str(exc)
    except SellingApiForbiddenException as exc:
        return f"Amazon denied access ({error_text(exc)}): the app is missing a role"
    except SellingApiException as exc:
        return f"Amazon answered {exc.code}: {error_text(exc)}"
    except httpx.HTTPError as exc:
        return f"could not reach Amazon: {exc}"
    except Exception as exc:  # noqa: BLE001 - LWA errors come as the library's own types
        text = str(exc)
        if "invalid_client" in text:
            return "Login with Amazon rejected the client id or client secret"
        if "invalid_grant" in text:
            return "the refresh token is invalid or was revoked: authorize the app again"
        return f"{type(exc).__name__}: {exc}"
    return None
