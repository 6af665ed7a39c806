"""Solicitations, Messaging and Uploads, with the rules Amazon enforces (docs/amazon-rules.md §2).

* Request a Review: offered from 5 days after the earliest delivery to 30 days after the
  latest; once per order; otherwise the POST answers 403 ``Unauthorized``.
* Messaging: only the actions Amazon offers for the order; text limits (customization
  800, digital access key 400, the others 2000) answer 400; attachments must name an
  upload destination created for this order's message and actually uploaded.
* Uploads: the destination URL is on the fake itself; the PUT must carry the returned
  headers and bytes whose MD5 is the ``contentMD5`` announced.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from datetime import UTC, datetime, timedelta

from .http import Reply, Request, error

REVIEW = "productReviewAndSellerFeedback"

# path segment -> (operationId in messaging.json, action name, text limit or None)
MESSAGE_KINDS = {
    "confirmCustomizationDetails": (
        "confirmCustomizationDetails",
        "confirmCustomizationDetails",
        800,
    ),
    "confirmDeliveryDetails": ("createConfirmDeliveryDetails", "confirmDeliveryDetails", 2000),
    "confirmOrderDetails": ("createConfirmOrderDetails", "confirmOrderDetails", 2000),
    "confirmServiceDetails": ("createConfirmServiceDetails", "confirmServiceDetails", 2000),
    "unexpectedProblem": ("createUnexpectedProblem", "unexpectedProblem", 2000),
    "digitalAccessKey": ("createDigitalAccessKey", "digitalAccessKey", 400),
    "warranty": ("CreateWarranty", "warranty", None),
    "legalDisclosure": ("createLegalDisclosure", "legalDisclosure", None),
    "invoice": ("sendInvoice", "sendInvoice", None),
}
# Messages whose model requires at least one attachment (messaging.json: minLength 1).
NEEDS_ATTACHMENT = {"invoice", "warranty"}
_upload_ids = itertools.count(1)

UNAUTHORIZED = "Access to requested resource is denied."


def window_open(order: dict, now: datetime | None = None) -> bool:
    """Amazon's Request a Review window: from 5 days after the earliest delivery date to
    30 days after the latest (docs/amazon-rules.md §2)."""
    if order["status"] == "CANCELLED" or order["earliest"] is None:
        return False
    now = now or datetime.now(UTC)
    return order["earliest"] + timedelta(days=5) <= now <= order["latest"] + timedelta(days=30)


def _order_for(fake, req: Request):
    """The order named in the path, checked against ``marketplaceIds`` (required)."""
    order_id = req.params["amazonOrderId"]
    markets = req.qlist("marketplaceIds")
    if not markets:
        return None, error(400, "InvalidInput", "marketplaceIds is required")
    order = fake.orders.get(order_id)
    if order is None:
        return None, error(404, "NotFound", f"order {order_id} not found")
    if order["marketplaceId"] not in markets:
        return None, error(
            400, "InvalidInput", f"order {order_id} is not in marketplace {markets[0]}"
        )
    return order, None


def _hal(path: str, names: list[str], market: str) -> dict:
    actions = [{"href": f"{path}/{n}?marketplaceIds={market}", "name": n} for n in names]
    return {
        "_links": {"self": {"href": path}, "actions": actions},
        "_embedded": {"actions": []},
    }


# -- Solicitations ---------------------------------------------------------------------


def solicitation_actions(fake, req: Request) -> Reply:
    order, problem = _order_for(fake, req)
    if problem:
        return problem
    oid = order["orderId"]
    offered = not fake.solicited[oid] and window_open(order)
    path = f"/solicitations/v1/orders/{oid}"
    return Reply(
        200, _hal(path + "/solicitations", [REVIEW] if offered else [], order["marketplaceId"])
    )


def no_body(req: Request) -> Reply | None:
    """Amazon's models define these POSTs without a body: a strict server refuses one."""
    if req.raw:
        return error(415, "UnsupportedMediaType", f"{req.operation} takes no request body")
    return None


def create_solicitation(fake, req: Request) -> Reply:
    refused = no_body(req)
    if refused:
        return refused
    order, problem = _order_for(fake, req)
    if problem:
        return problem
    oid = order["orderId"]
    with fake.lock:
        if fake.solicited[oid] or not window_open(order):
            # Amazon's answer when already requested (also in Seller Central) or outside
            # the window.
            return error(403, "Unauthorized", UNAUTHORIZED)
        fake.solicited[oid] += 1
    return Reply(201, {})


# -- Messaging -------------------------------------------------------------------------


def offered_messages(order: dict) -> list[str]:
    """The Messaging actions Amazon offers for the order now."""
    if order["messaging"] is not None:
        return list(order["messaging"])
    if order["status"] == "CANCELLED":
        return ["unexpectedProblem"]
    return [kind[1] for kind in MESSAGE_KINDS.values()]


def messaging_actions(fake, req: Request) -> Reply:
    order, problem = _order_for(fake, req)
    if problem:
        return problem
    path = f"/messaging/v1/orders/{order['orderId']}"
    return Reply(200, _hal(path + "/messages", offered_messages(order), order["marketplaceId"]))


def attributes(fake, req: Request) -> Reply:
    order, problem = _order_for(fake, req)
    if problem:
        return problem
    return Reply(200, {"buyer": {"locale": order["locale"]}})


def create_message(fake, req: Request) -> Reply:
    kind = req.params["kind"]
    _, action, limit = MESSAGE_KINDS[kind]
    order, problem = _order_for(fake, req)
    if problem:
        return problem
    if action not in offered_messages(order):
        return error(403, "Unauthorized", UNAUTHORIZED)
    if not req.raw:
        return error(400, "InvalidInput", "the body is required")
    try:
        body = req.json()
    except ValueError:
        return error(400, "InvalidInput", "the body is not JSON")
    if not isinstance(body, dict):
        return error(400, "InvalidInput", "the body must be an object")
    text = body.get("text")
    if limit is not None:
        if not isinstance(text, str) or not text:
            return error(400, "InvalidInput", "text is required")
        if len(text) > limit:
            return error(400, "InvalidInput", f"text is longer than {limit} characters")
    attachments = body.get("attachments") or []
    if kind in NEEDS_ATTACHMENT and not attachments:
        return error(400, "InvalidInput", "attachments are required")
    if len(attachments) > 5:
        return error(400, "InvalidInput", "at most 5 attachments")
    for a in attachments:
        dest = fake.uploads.get((a or {}).get("uploadDestinationId", ""))
        if not a.get("fileName") or dest is None:
            return error(400, "InvalidInput", "unknown uploadDestinationId or missing fileName")
        if not dest["uploaded"]:
            return error(400, "InvalidInput", f"nothing was uploaded to {dest['id']}")
        if order["orderId"] not in dest["resource"] or not dest["resource"].endswith(kind):
            return error(
                400, "InvalidInput", f"upload {dest['id']} was made for {dest['resource']}"
            )
    with fake.lock:
        fake.messages.setdefault(order["orderId"], []).append((kind, body))
    return Reply(201, {})


# -- Uploads ---------------------------------------------------------------------------


def _md5_problem(md5: str) -> str | None:
    """The query's ``contentMD5`` must be the base64 MD5 (24 characters, 16 bytes), sent
    percent-encoded exactly once: a twice-encoded value arrives here still encoded."""
    try:
        digest = base64.b64decode(md5, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 16:
        return f"contentMD5 {md5!r} is not a base64 MD5 digest (was it encoded twice?)"
    return None


def create_upload_destination(fake, req: Request) -> Reply:
    refused = no_body(req)
    if refused:
        return refused
    if not req.qlist("marketplaceIds"):
        return error(400, "InvalidInput", "marketplaceIds is required")
    md5 = req.qget("contentMD5")
    if not md5:
        return error(400, "InvalidInput", "contentMD5 is required")
    problem = _md5_problem(md5)
    if problem:
        return error(400, "InvalidInput", problem)
    dest_id = f"amzn1.tortuga.4.eu.fake{next(_upload_ids):06d}"
    # The headers of Amazon's example answer: S3 checks the MD5 and the encryption.
    headers = {"Content-MD5": md5, "x-amz-server-side-encryption": "aws:kms"}
    with fake.lock:
        fake.uploads[dest_id] = {
            "id": dest_id,
            "resource": req.params["resource"],
            "md5": md5,
            "headers": headers,
            "uploaded": False,
            "data": b"",
        }
    return Reply(
        201,
        {
            "payload": {
                "uploadDestinationId": dest_id,
                "url": f"{fake.url}/upload/{dest_id}",
                "headers": headers,
            }
        },
    )


def put_upload(fake, req: Request) -> Reply:
    """The PUT of the bytes to the destination URL (S3 on Amazon)."""
    dest = fake.uploads.get(req.params["destination"])
    if dest is None:
        return Reply(404, raw=b"<Error><Code>NoSuchKey</Code></Error>", content_type="text/xml")
    sent = req.headers  # lowercased by the handler
    for name, value in dest["headers"].items():
        if sent.get(name.lower()) != value:
            return Reply(
                403,
                raw=f"<Error><Code>SignatureDoesNotMatch</Code><Header>{name}</Header></Error>".encode(),
                content_type="text/xml",
            )
    if int(sent.get("content-length") or -1) != len(req.raw):
        return Reply(
            400, raw=b"<Error><Code>IncompleteBody</Code></Error>", content_type="text/xml"
        )
    digest = base64.b64encode(hashlib.md5(req.raw).digest()).decode()
    if digest != dest["md5"]:
        return Reply(400, raw=b"<Error><Code>BadDigest</Code></Error>", content_type="text/xml")
    with fake.lock:
        dest["uploaded"] = True
        dest["data"] = req.raw
    return Reply(200, raw=b"", content_type="text/plain")
