"""The Request-a-Review (Solicitations) and Messaging senders.

Amazon's rules encoded here (DOMAIN.md §2):
* Ask first, always: ``getSolicitationActionsForOrder`` / ``getMessagingActionsForOrder``
  before any POST; an empty action list may mean "not yet", so it waits and re-checks
  daily until the review window closes.
* ``marketplaceIds`` is passed explicitly on every call (Amazon answers 400 otherwise).
* A 403 on the solicitation POST means "already requested or outside the window": it is
  recorded as skipped and never retried.
* A timeout or a 5xx after the POST was sent leaves the message *in doubt*; reconcile asks
  the actions endpoint again instead of sending blindly.
"""

from __future__ import annotations

import logging

import httpx
from sp_api.api import Messaging, Solicitations, Upload
from sp_api.base import (
    SellingApiBadRequestException,
    SellingApiException,
    SellingApiForbiddenException,
    SellingApiRequestThrottledException,
)

from core import Sender, SendResult
from core.clock import utcnow
from core.services import mark_account

from .client import AmazonError, call, error_text, make_client
from .marketplaces import BY_CODE

log = logging.getLogger(__name__)

REVIEW_ACTION = "productReviewAndSellerFeedback"

# message_type -> (action name in getMessagingActionsForOrder, library method, text limit)
MESSAGE_TYPES = {
    "confirmCustomizationDetails": (
        "confirmCustomizationDetails",
        "confirm_customization_details",
        800,
    ),
    "createConfirmDeliveryDetails": (
        "confirmDeliveryDetails",
        "create_confirm_delivery_details",
        2000,
    ),
    "createConfirmOrderDetails": ("confirmOrderDetails", "create_confirm_order_details", 2000),
    "createConfirmServiceDetails": (
        "confirmServiceDetails",
        "create_confirm_service_details",
        2000,
    ),
    "createUnexpectedProblem": ("unexpectedProblem", "create_unexpected_problem", 2000),
    "createDigitalAccessKey": ("digitalAccessKey", "create_digital_access_key", 400),
    "createWarranty": ("warranty", "create_warranty", 2000),
    "createLegalDisclosure": ("legalDisclosure", "create_legal_disclosure", 2000),
    "sendInvoice": ("sendInvoice", "send_invoice", 2000),
}
# Messages that only carry attachments (no text field in Amazon's model).
ATTACHMENT_ONLY = {"sendInvoice", "createLegalDisclosure"}


def _mid(order) -> str:
    return BY_CODE[order.marketplace].marketplace_id


def _actions(response) -> set[str]:
    payload = response.payload if response.payload is not None else {}
    links = (payload.get("_links") or {}) if isinstance(payload, dict) else {}
    actions = links.get("actions")
    if actions is None:
        raise AmazonError("malformed", "the actions answer has no _links.actions")
    return {a.get("name", "") for a in actions}


def _account(order):
    from core.models import SellerAccount

    return SellerAccount.get_by_id(order.account_id)


def _read_problem(account, exc: Exception) -> str:
    """A failed read before any send: mark the account when it is the seller's to fix."""
    if isinstance(exc, SellingApiForbiddenException):
        mark_account(
            account,
            "error",
            f"Amazon denied access: {error_text(exc)} "
            "(check the app's roles and the refresh token)",
        )
        return "waiting: Amazon denied access to this order (see the account's status)"
    if isinstance(exc, AmazonError) and exc.kind == "credentials":
        mark_account(account, "error", str(exc))
        return f"waiting: {exc}"
    if isinstance(exc, SellingApiException):
        return f"waiting: Amazon answered {error_text(exc)}"
    return f"waiting: could not reach Amazon ({type(exc).__name__}: {exc})"


def _offered(engine, account, order, api_cls, operation: str, method: str) -> set[str]:
    """The action names Amazon offers for the order now (the "ask first" call)."""
    client = make_client(engine, account, api_cls, order.marketplace)
    response = call(
        account, operation, getattr(client, method), order.order_id, marketplaceIds=[_mid(order)]
    )
    return _actions(response)


# -- Request a Review -------------------------------------------------------------------


def review_preflight(engine, message, order):
    account = _account(order)
    try:
        actions = _offered(
            engine,
            account,
            order,
            Solicitations,
            "getSolicitationActionsForOrder",
            "get_solicitation_actions_for_order",
        )
    except (SellingApiException, AmazonError, httpx.HTTPError) as exc:
        return _read_problem(account, exc)
    if REVIEW_ACTION in actions:
        return None
    window = engine.review_window(order)
    if window is not None and utcnow() > window.closes:
        return "skipped: Amazon did not offer Request a Review before the window closed"
    return "waiting: Amazon does not offer Request a Review for this order yet (re-checked daily)"


def review_send(engine, message, order, rendered):
    account = _account(order)
    client = make_client(engine, account, Solicitations, order.marketplace)
    try:
        call(
            account,
            "createProductReviewAndSellerFeedbackSolicitation",
            client.create_product_review_and_seller_feedback_solicitation,
            order.order_id,
            marketplaceIds=[_mid(order)],
            write=True,
        )
    except SellingApiForbiddenException as exc:
        return SendResult(
            "skipped",
            f"Amazon answered 403 ({error_text(exc)}): already "
            "requested or outside the window; not retried",
        )
    except SellingApiRequestThrottledException:
        return SendResult("retry", "Amazon answered 429 (throttled); retrying later", retry_after=2)
    except SellingApiBadRequestException as exc:
        return SendResult("failed", f"Amazon answered 400: {error_text(exc)}")
    except SellingApiException as exc:
        return SendResult("in_doubt", f"Amazon answered {exc.code}: {error_text(exc)}")
    except httpx.TimeoutException as exc:
        return SendResult(
            "in_doubt", f"no answer after the request was sent ({type(exc).__name__})"
        )
    except httpx.TransportError as exc:
        # The connection failed before a request could be written: nothing was sent.
        if isinstance(exc, httpx.ConnectError):
            return SendResult("retry", f"could not connect to Amazon: {exc}")
        return SendResult("in_doubt", f"connection broke during the request: {exc}")
    return SendResult("sent", "Amazon accepted the Request a Review")


def review_reconcile(engine, message, order):
    """In doubt: if Amazon still offers the action, the request did not go through."""
    account = _account(order)
    try:
        actions = _offered(
            engine,
            account,
            order,
            Solicitations,
            "getSolicitationActionsForOrder",
            "get_solicitation_actions_for_order",
        )
    except (SellingApiException, AmazonError, httpx.HTTPError):
        return None
    if REVIEW_ACTION in actions:
        return "not_sent"
    window = engine.review_window(order)
    inside = window is not None and window.opens <= utcnow() <= window.closes
    # Inside the window, a vanished action means our request was recorded.
    return "sent" if inside else None


# -- Messaging ------------------------------------------------------------------------


def messaging_prepare(engine, message, order):
    """Learn the buyer's language from getAttributes before the text is chosen."""
    account = _account(order)
    try:
        client = make_client(engine, account, Messaging, order.marketplace)
        response = call(
            account,
            "getAttributes",
            client.get_attributes,
            order.order_id,
            marketplaceIds=[_mid(order)],
        )
    except (SellingApiException, AmazonError, httpx.HTTPError) as exc:
        return _read_problem(account, exc)
    locale = ((response.payload or {}).get("buyer") or {}).get("locale", "")
    if locale and locale != order.buyer_locale:
        from core.models import Order

        Order.update(buyer_locale=locale).where(Order.id == order.id).execute()
        order.buyer_locale = locale
    return None


def messaging_preflight(engine, message, order):
    kind = message.step.message_type if message.step_id else ""
    if kind not in MESSAGE_TYPES:
        return f"skipped: {kind or 'no message type'} is not a Messaging API message type"
    account = _account(order)
    try:
        actions = _offered(
            engine,
            account,
            order,
            Messaging,
            "getMessagingActionsForOrder",
            "get_messaging_actions_for_order",
        )
    except (SellingApiException, AmazonError, httpx.HTTPError) as exc:
        return _read_problem(account, exc)
    if MESSAGE_TYPES[kind][0] not in actions:
        return f"waiting: Amazon does not allow {kind} for this order now (re-checked daily)"
    return None


def _upload(engine, account, order, attachment) -> dict:
    client = make_client(engine, account, Upload, order.marketplace)
    response = call(
        account,
        "createUploadDestinationForResource",
        client.upload_document,
        f"messaging/v1/orders/{order.order_id}/messages/{attachment.kind}",
        attachment.data,
        content_type=attachment.content_type,
        marketplaceIds=[_mid(order)],
        write=True,
    )
    destination = (response.payload or {}).get("uploadDestinationId")
    if not destination:
        raise AmazonError("malformed", "the upload answer has no uploadDestinationId")
    return {"uploadDestinationId": destination, "fileName": attachment.filename}


def messaging_send(engine, message, order, rendered):
    kind = message.step.message_type
    _, method, limit = MESSAGE_TYPES[kind]
    if kind not in ATTACHMENT_ONLY and len(rendered.text) > limit:
        # Enforced before the call: Amazon would answer 400 (Messaging API text limits).
        return SendResult(
            "failed", f"text is {len(rendered.text)} characters; {kind} allows {limit}"
        )
    account = _account(order)
    client = make_client(engine, account, Messaging, order.marketplace)
    body: dict = {} if kind in ATTACHMENT_ONLY else {"text": rendered.text}
    try:
        if rendered.attachments:
            body["attachments"] = [_upload(engine, account, order, a) for a in rendered.attachments]
        call(
            account,
            "messaging",
            getattr(client, method),
            order.order_id,
            body=body,
            marketplaceIds=[_mid(order)],
            write=True,
        )
    except SellingApiRequestThrottledException:
        return SendResult("retry", "Amazon answered 429 (throttled); retrying later", retry_after=2)
    except (SellingApiBadRequestException, SellingApiForbiddenException) as exc:
        return SendResult("failed", f"Amazon answered {exc.code}: {error_text(exc)}")
    except SellingApiException as exc:
        return SendResult("in_doubt", f"Amazon answered {exc.code}: {error_text(exc)}")
    except AmazonError as exc:
        return SendResult("retry", str(exc))
    except httpx.ConnectError as exc:
        return SendResult("retry", f"could not connect to Amazon: {exc}")
    except httpx.HTTPError as exc:
        return SendResult(
            "in_doubt", f"no answer after the request was sent ({type(exc).__name__})"
        )
    return SendResult("sent", f"Amazon accepted {kind}")


SENDERS = [
    Sender(
        "amazon_review",
        "Amazon: Request a Review",
        review_send,
        preflight=review_preflight,
        reconcile=review_reconcile,
        review_request=True,
        needs_body=False,
    ),
    Sender(
        "amazon_messaging",
        "Amazon: Messaging API",
        messaging_send,
        preflight=messaging_preflight,
        prepare=messaging_prepare,
        max_length=2000,
    ),
]
