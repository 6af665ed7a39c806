"""Reports API 2021-06-30 for the All Orders and seller-feedback reports, and the
document download.

A report is ``IN_QUEUE``, then ``IN_PROGRESS`` for ``fake.report_polls`` getReport
calls, then ``fake.report_outcome`` (``DONE`` by default, or ``FATAL``/``CANCELLED``).
The document is the tab-separated "All Orders" layout that plugins/amazon/report.py
parses, or the seller-feedback layout (``fake.feedback``, in the marketplace's language
and date format) that plugins/amazon/feedback.py parses, optionally gzip-compressed
(``fake.report_gzip``) as Amazon may serve it.
"""

from __future__ import annotations

import gzip
import itertools
from datetime import UTC, datetime

from .http import Reply, Request, error, iso, parse_iso

ALL_ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
FEEDBACK = "GET_SELLER_FEEDBACK_DATA"
REPORT_TYPES = (ALL_ORDERS, FEEDBACK)
# Seller Central's feedback file per marketplace: (column names, date format).
FEEDBACK_LAYOUTS = {
    "A1PA6795UKMFR9": (
        ("Datum", "Bewertung", "Kommentare", "Ihre Antwort", "Bestellnummer", "E-Mail"),
        "%d.%m.%y",
    ),
    "A1F83G8C2ARO7P": (
        ("Date", "Rating", "Comments", "Response", "Order ID", "Rater Email"),
        "%d/%m/%y",
    ),
}
US_LAYOUT = (("Date", "Rating", "Comments", "Response", "Order ID", "Rater Email"), "%m/%d/%y")
COLUMNS = (
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "ship-country",
    "is-business-order",
)
_ids = itertools.count(50001)
REPORT_STATUS = {
    "PENDING": "Pending",
    "PENDING_AVAILABILITY": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "Shipping",
    "SHIPPED": "Shipped",
    "CANCELLED": "Cancelled",
    "UNFULFILLABLE": "Cancelled",
}


def create_report(fake, req: Request) -> Reply:
    try:
        spec = req.json()
    except ValueError:
        return error(400, "InvalidInput", "the body is not JSON")
    if not isinstance(spec, dict) or not spec.get("reportType") or not spec.get("marketplaceIds"):
        return error(400, "InvalidInput", "reportType and marketplaceIds are required")
    if spec["reportType"] not in REPORT_TYPES:
        return error(400, "InvalidInput", f"the fake has no report {spec['reportType']}")
    try:
        start = parse_iso(spec["dataStartTime"]) if spec.get("dataStartTime") else None
        end = parse_iso(spec["dataEndTime"]) if spec.get("dataEndTime") else None
    except ValueError:
        return error(400, "InvalidInput", "dataStartTime or dataEndTime is not ISO 8601")
    if spec["reportType"] == FEEDBACK and len(spec["marketplaceIds"]) != 1:
        return error(400, "InvalidInput", "the feedback report takes exactly one marketplace")
    report_id = str(next(_ids))
    with fake.lock:
        fake.reports[report_id] = {
            "reportId": report_id,
            "reportType": spec["reportType"],
            "marketplaceIds": list(spec["marketplaceIds"]),
            "createdTime": iso(datetime.now(UTC)),
            "dataStartTime": iso(start) if start else None,
            "dataEndTime": iso(end) if end else None,
            "_start": start,
            "_end": end,
            "_polls": 0,
            "_document": None,
        }
    return Reply(202, {"reportId": report_id})


def get_report(fake, req: Request) -> Reply:
    with fake.lock:
        report = fake.reports.get(req.params["reportId"])
        if report is None:
            return error(404, "NotFound", f"report {req.params['reportId']} not found")
        report["_polls"] += 1
        polls = report["_polls"]
        if polls <= fake.report_polls:
            status = "IN_QUEUE" if polls == 1 else "IN_PROGRESS"
        else:
            status = fake.report_outcome
        body = {k: v for k, v in report.items() if not k.startswith("_") and v is not None}
        body["processingStatus"] = status
        if status == "DONE":
            if report["_document"] is None:
                doc_id = f"amzn1.spdoc.1.4.eu.fake{report['reportId']}"
                build = build_feedback if report["reportType"] == FEEDBACK else build_document
                fake.documents[doc_id] = build(fake, report)
                report["_document"] = doc_id
            body["reportDocumentId"] = report["_document"]
            body["processingEndTime"] = iso(datetime.now(UTC))
    return Reply(200, body)


def get_report_document(fake, req: Request) -> Reply:
    doc_id = req.params["reportDocumentId"]
    if doc_id not in fake.documents:
        return error(404, "NotFound", f"document {doc_id} not found")
    body = {"reportDocumentId": doc_id, "url": f"{fake.url}/documents/{doc_id}"}
    if fake.report_gzip:
        body["compressionAlgorithm"] = "GZIP"
    return Reply(200, body)


def download(fake, req: Request) -> Reply:
    """The presigned document URL (S3 on Amazon): the report's bytes, no auth header."""
    text = fake.documents.get(req.params["documentId"])
    if text is None:
        return Reply(404, raw=b"<Error><Code>NoSuchKey</Code></Error>", content_type="text/xml")
    data = text.encode("utf-8")
    if fake.report_gzip:
        data = gzip.compress(data)
    return Reply(200, raw=data, content_type="text/plain; charset=utf-8")


def build_document(fake, report: dict) -> str:
    """The All Orders file: one tab-separated row per order item."""
    rows = ["\t".join(COLUMNS)]
    start = report["_start"]
    for order in sorted(fake.orders.values(), key=lambda o: o["updated"]):
        if order["marketplaceId"] not in report["marketplaceIds"]:
            continue
        if start is not None and order["updated"] < start:
            continue
        status = REPORT_STATUS[order["status"]]
        if order["delivered"] is not None and order["fulfilledBy"] == "AMAZON":
            status = "Shipped - Delivered to Buyer"
        for item in order["items"]:
            rows.append(
                "\t".join(
                    [
                        order["orderId"],
                        order["orderId"],
                        iso(order["created"]).replace("Z", "+00:00"),
                        iso(order["updated"]).replace("Z", "+00:00"),
                        status,
                        "Amazon" if order["fulfilledBy"] == "AMAZON" else "Merchant",
                        order["channel"],
                        "",
                        "Standard",
                        item["title"],
                        item["sku"],
                        item["asin"],
                        "Cancelled"
                        if order["status"] == "CANCELLED"
                        else "Shipped"
                        if order["shipped"]
                        else "Unshipped",
                        str(item["quantity"]),
                        order["currency"],
                        f"{item['price'] * item['quantity']:.2f}",
                        "0.00",
                        "0.00",
                        "0.00",
                        order["ship_country"],
                        "false",
                    ]
                )
            )
    return "\n".join(rows) + "\n"


def build_feedback(fake, report: dict) -> str:
    """The seller-feedback file of one marketplace: one tab-separated row per feedback
    left in the report's data range, in the marketplace's column names and date format."""
    [market] = report["marketplaceIds"]
    columns, date_format = FEEDBACK_LAYOUTS.get(market, US_LAYOUT)
    rows = ["\t".join(columns)]
    start, end = report["_start"], report["_end"]
    for entry in sorted(fake.feedback, key=lambda e: e["date"]):
        if entry["marketplace_id"] != market:
            continue
        if (start and entry["date"] < start) or (end and entry["date"] > end):
            continue
        rows.append(
            "\t".join(
                [
                    entry["date"].strftime(date_format),
                    str(entry["rating"]),
                    entry["comments"],
                    entry["response"],
                    entry["order_id"],
                    f"{entry['order_id'].replace('-', '')}@marketplace.amazon.de",
                ]
            )
        )
    return "\n".join(rows) + "\n"
