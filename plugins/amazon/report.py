"""Parsing Seller Central's "All Orders" report (tab-separated, one row per item).

The same layout comes from the Reports API (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_
GENERAL) and from Seller Central's download, so one parser serves the backfill and the
``followup import-orders`` command. The report carries no delivery dates and no buyer
data (docs/amazon-rules.md §4), so events are derived from the order and item status only.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from core import ItemData, OrderData

from .marketplaces import BY_SALES_CHANNEL

REQUIRED = (
    "amazon-order-id",
    "purchase-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
)
# Every column the parser reads (the REQUIRED ones and those it can do without).
COLUMNS = (
    *REQUIRED,
    "last-updated-date",
    "sku",
    "asin",
    "product-name",
    "quantity",
    "item-price",
    "shipping-price",
    "item-status",
    "currency",
    "ship-country",
    "is-business-order",
)


class ReportError(ValueError):
    """The file is not an All Orders report; names the line and column."""


def _when(value: str, line: int, column: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportError(f"line {line}: {column} {value!r} is not a date") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value: str) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _events(status: str, item_status: str, purchased: datetime, updated: datetime) -> dict:
    s = f"{status} {item_status}".lower()
    events = {"ordered": purchased}
    if "cancel" in s:
        events["cancelled"] = updated
    if "shipped" in s.replace("unshipped", ""):  # "Pending / Unshipped" has not shipped
        events["shipped"] = updated
    if "delivered to buyer" in s:
        events["delivered"] = updated
    if "returned to seller" in s or "rejected by buyer" in s:
        events["returned"] = updated
    return events


def parse_all_orders(lines: Iterable[str]) -> Iterator[OrderData]:
    """Yield one ``OrderData`` per order id, items merged, in file order."""
    reader = csv.reader(lines, delimiter="\t")
    header = next(reader, None) or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ReportError(
            f"not an All Orders report: missing column(s) {', '.join(missing)} "
            "(export 'All Orders' as a tab-delimited text file from Seller Central)"
        )
    width = len(header)
    # Plain rows and column positions: a dict per line costs more than the rest of the
    # parse. A missing column reads as "" (as csv.DictReader's restval did).
    at = {name: header.index(name) if name in header else width for name in COLUMNS}
    oid, sku, asin, title = at["amazon-order-id"], at["sku"], at["asin"], at["product-name"]
    qty, price, ship, status = (
        at["quantity"],
        at["item-price"],
        at["shipping-price"],
        at["item-status"],
    )
    current: dict | None = None
    for line, cells in enumerate(reader, start=2):
        if not cells:
            continue  # a blank line, skipped as csv.DictReader did
        if len(cells) != width:
            cells = (cells + [""] * width)[:width]
        cells.append("")  # what a column the file lacks reads as
        row = cells
        order_id = row[oid].strip()
        if not order_id:
            raise ReportError(f"line {line}: empty amazon-order-id")
        if current is None or current["order_id"] != order_id:
            if current is not None:
                yield _build(current)
            current = _start(row, at, line)
        current["items"].append(
            ItemData(
                sku=row[sku],
                asin=row[asin],
                title=row[title],
                quantity=int(_number(row[qty] if qty < width else "1") or 1),
                price=_number(row[price]),
            )
        )
        current["total"] += _number(row[price]) + _number(row[ship])
        current["item_statuses"].append(row[status])
    if current is not None:
        yield _build(current)


def _start(row: list[str], at: dict[str, int], line: int) -> dict:
    channel = row[at["sales-channel"]].strip().lower()
    mkt = BY_SALES_CHANNEL.get(channel)
    if mkt is None:
        raise ReportError(f"line {line}: unknown sales-channel {row[at['sales-channel']]!r}")
    purchased = _when(row[at["purchase-date"]], line, "purchase-date")
    updated_text = row[at["last-updated-date"]] or row[at["purchase-date"]]
    updated = _when(updated_text, line, "last-updated-date")
    return {
        "order_id": row[at["amazon-order-id"]].strip(),
        "marketplace": mkt.code,
        "fulfillment": "FBA" if row[at["fulfillment-channel"]].strip() == "Amazon" else "FBM",
        "status": row[at["order-status"]].strip(),
        "purchased": purchased,
        "updated": updated,
        "currency": row[at["currency"]] or mkt.currency,
        "ship_country": row[at["ship-country"]].strip().upper(),
        "is_business": row[at["is-business-order"]].lower() == "true",
        "items": [],
        "item_statuses": [],
        "total": 0.0,
    }


def _build(c: dict) -> OrderData:
    return OrderData(
        order_id=c["order_id"],
        marketplace=c["marketplace"],
        fulfillment=c["fulfillment"],
        status=c["status"],
        purchased_at=c["purchased"],
        last_updated_at=c["updated"],
        items=tuple(c["items"]),
        total=round(c["total"], 2),
        currency=c["currency"],
        ship_country=c["ship_country"],
        is_business=c["is_business"],
        events=_events(c["status"], " ".join(c["item_statuses"]), c["purchased"], c["updated"]),
    )


def parse_file(path) -> Iterator[OrderData]:
    """Stream the orders of a report file (plain or gzip), one line at a time: a
    million-line file costs no more memory than a small one."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        yield from parse_all_orders(fh)
