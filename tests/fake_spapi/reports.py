"""Reports API 2021-06-30 for the All Orders report, and the document download.

A report is ``IN_QUEUE``, then ``IN_PROGRESS`` for ``fake.report_polls`` getReport
calls, then ``fake.report_outcome`` (``DONE`` by default, or ``FATAL``/``CANCELLED``).
The document is the tab-separated "All Orders" layout that plugins/amazon/report.py
parses, optionally gzip-compressed (``fake.report_gzip``) as Amazon may serve it.
"""

from __future__ import annotations

import gzip
import itertools
from datetime import UTC, datetime

from .http import Reply, Request, error, iso, parse_iso

ALL_ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
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
    if spec["reportType"] != ALL_ORDERS:
        return error(400, "InvalidInput", f"the fake has no report {spec['reportType']}")
    try:
        start = parse_iso(spec["dataStartTime"]) if spec.get("dataStartTime") else None
    except ValueError:
        return error(400, "InvalidInput", "dataStartTime is not ISO 8601")
    report_id = str(next(_ids))
    with fake.lock:
        fake.reports[report_id] = {
            "reportId": report_id,
            "reportType": ALL_ORDERS,
            "marketplaceIds": list(spec["marketplaceIds"]),
            "createdTime": iso(datetime.now(UTC)),
            "dataStartTime": iso(start) if start else None,
            "_start": start,
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
                fake.documents[doc_id] = build_document(fake, report)
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
