"""The Request-a-Review (Solicitations) and Messaging senders.

Amazon's rules encoded here (docs/amazon-rules.md §2):
* Ask first, always: ``getSolicitationActionsForOrder`` / ``getMessagingActionsForOrder``
  before any POST; an empty action list may mean "not yet", so it waits and re-checks
  daily until the review window closes.
* ``marketplaceIds`` is passed explicitly on every call (Amazon answers 400 otherwise).
* A 403 on the solicitation POST means "already requested or outside the window": it is
  recorded as skipped and never retried.
* A 429 on a POST is a throttled retry (``SendResult.throttled``), due again no sooner
  than Amazon's ``Retry-After`` or the account's token bucket allows; the dispatcher does
  not count it as a failed attempt.
* A read before the send (the actions, ``getAttributes``) that fails for a transient
  reason (429, 5xx, timeout, no connection) is re-checked within minutes
  (``core.Waiting``); a credentials problem (Login with Amazon refusing the refresh
  token or client, a 403 on a read) marks the account and waits for the seller to fix
  it on the Accounts page, which re-queues the message.
* A timeout or a 5xx after the POST was sent leaves the message *in doubt*; reconcile asks
  the actions endpoint again instead of sending blindly.
* Messaging: the text limits (customization 800, digital access key 400, others 2000)
  are checked before any call; attachments are uploaded first (Uploads API destination,
  then a PUT of the bytes with the returned headers) and a failure there sends nothing
  and retries. A timeout or 5xx on the message POST leaves it *in doubt* for good: the
  Messaging API cannot tell whether the buyer got it (its actions stay offered), so it is
  never resent automatically; the seller checks Seller Central's sent messages.
* Invoices: a step of message type ``sendInvoice`` (or ``invoice``, as the EU VAT plugin
  names it) sends the PDF a ``message_attachments`` hook provides (kind ``invoice``)
  through ``sendInvoice``; the template's text is not sent (that operation has none).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import httpx
from sp_api.api import Messaging
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import (
    SellingApiBadRequestException,
    SellingApiException,
    SellingApiForbiddenException,
    SellingApiRequestThrottledException,
)

from core import (
    ACCOUNT_PROBLEM,
    NEVER_OFFERED,
    RECHECK_WAITING,
    Order,
    SellerAccount,
    Sender,
    SendResult,
    Waiting,
    mark_account,
    utcnow,
)

from .client import (
    TIMEOUT,
    AmazonError,
    call,
    error_text,
    make_client,
    recheck_after,
    retry_after,
)
from .marketplaces import BY_CODE
from .operations import ModelSolicitations, ModelUpload

log = logging.getLogger(__name__)

REVIEW_ACTION = "productReviewAndSellerFeedback"
REVIEW_POST = "createProductReviewAndSellerFeedbackSolicitation"
UPLOAD_OPERATION = "createUploadDestinationForResource"
# One rate-limit bucket for all Messaging POSTs (1 request/s, burst 5 each).
MESSAGING_OPERATION = "messaging"

# message_type -> (action name in getMessagingActionsForOrder, library method, text
# limit or None when Amazon's model has no text field). Limits: messaging.json's
# maxLength (docs/amazon-rules.md §2); a longer text would be answered 400.
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
    "createWarranty": ("warranty", "create_warranty", None),
    "createLegalDisclosure": ("legalDisclosure", "create_legal_disclosure", None),
    "sendInvoice": ("sendInvoice", "send_invoice", None),
}
# The operation's path segment, which is also the Uploads ``resource`` an attachment is
# uploaded for ("messaging/v1/orders/{id}/messages/<segment>").
PATH_SEGMENT = {kind: names[0] for kind, names in MESSAGE_TYPES.items()} | {
    "sendInvoice": "invoice"  # the one operation whose path differs from its action name
}
# Messages that carry attachments in Amazon's model (at most 5); invoices and warranties
# need at least one (messaging.json: minLength 1).
TAKES_ATTACHMENTS = {
    "confirmCustomizationDetails",
    "createDigitalAccessKey",
    "createWarranty",
    "createLegalDisclosure",
    "sendInvoice",
}
NEEDS_ATTACHMENT = {"sendInvoice", "createWarranty"}
# Step message types other plugins use for the same operation (eu_vat: "invoice").
ALIASES = {"invoice": "sendInvoice", "warranty": "createWarranty"}


def message_kind(message) -> str:
    """The Messaging operation of a message's step (aliases resolved)."""
    kind = message.step.message_type if message.step_id else ""
    return ALIASES.get(kind, kind)


MAX_ATTACHMENTS = 5


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
    return SellerAccount.get_by_id(order.account_id)


def _lwa_text(exc: AuthorizationError) -> str:
    code = getattr(exc, "error_code", "") or "error"
    if code == "invalid_grant":
        return (
            "Login with Amazon: invalid_grant (the refresh token is invalid or was "
            "revoked: authorize the app again)"
        )
    if code == "invalid_client":
        return "Login with Amazon: invalid_client (the client id or client secret is wrong)"
    return f"Login with Amazon refused the credentials: {code} {getattr(exc, 'message', '')}"


# What a read before any send can raise: the library's API errors, ours, LWA, network,
# and a Login with Amazon answer that is not JSON (an outage page: the library's token
# client parses it unconditionally).
READ_ERRORS = (
    SellingApiException,
    AmazonError,
    AuthorizationError,
    httpx.HTTPError,
    json.JSONDecodeError,
)
# What a POST can raise that ``_post_failed`` judges.
POST_ERRORS = (SellingApiException, AuthorizationError, httpx.HTTPError)
# AmazonError kinds that are Amazon's or the network's passing trouble, not the seller's.
TRANSIENT_KINDS = ("throttled", "server", "timeout", "malformed")
# AmazonError kinds the seller fixes on the Accounts page.
ACCOUNT_KINDS = ("credentials", "region")
# The app role each read before a send needs; without it Amazon answers 403 (SP-API
# "Roles in the Selling Partner API").
ROLES = {
    "getSolicitationActionsForOrder": "Buyer Solicitation",
    "getMessagingActionsForOrder": "Buyer Communication",
    "getAttributes": "Buyer Communication",
}


def _lwa_refused(exc: AuthorizationError) -> bool:
    """Whether Login with Amazon refused the credentials themselves.

    LWA answers 400/401 with an OAuth error code (RFC 6749 §5.2: invalid_grant for a
    revoked or wrong refresh token, invalid_client for a wrong client id or secret); a
    429 or 5xx is an outage that says nothing about the seller's token.
    """
    status = getattr(exc, "status_code", 0) or 0
    return not (status == 429 or status >= 500)


def _account_problem(account, detail: str) -> str:
    """Mark the account with ``detail`` and say, recognisably, that the message waits for
    the seller to fix it (``core.accounts.requeue_account_messages`` looks for this)."""
    mark_account(account, "error", detail)
    return f"{ACCOUNT_PROBLEM}: {detail}; fix the credentials on the Accounts page"


def _transient(exc: Exception) -> str | None:
    """What went wrong when it is Amazon's or the network's passing trouble, else None."""
    if isinstance(exc, SellingApiRequestThrottledException):
        return f"Amazon answered 429 ({error_text(exc)})"
    if isinstance(exc, SellingApiException) and (getattr(exc, "code", 0) or 0) >= 500:
        return f"Amazon answered {exc.code} ({error_text(exc)})"
    if isinstance(exc, AuthorizationError) and not _lwa_refused(exc):
        return f"Login with Amazon answered {exc.status_code} ({exc.error_code or 'no code'})"
    if isinstance(exc, AmazonError) and exc.kind in TRANSIENT_KINDS:
        return str(exc)
    if isinstance(exc, httpx.HTTPError):
        return f"could not reach Amazon ({type(exc).__name__}: {exc})"
    if isinstance(exc, json.JSONDecodeError):
        return "Login with Amazon's answer was not JSON"
    return None


def _read_problem(account, exc: Exception, operation: str) -> str:
    """A failed read before any send: when to look again, and whose move it is.

    Transient trouble is re-checked within minutes (``Waiting.recheck_after``); a
    credentials problem marks the account and waits for the seller (re-queued when the
    credentials are saved or the account works again); anything else is re-checked
    daily like "not offered yet".
    """
    if isinstance(exc, SellingApiForbiddenException):
        # On these reads a 403 is about the app, not the order: a missing role or a
        # token of another seller or region.
        role = ROLES.get(operation, "the needed")
        detail = (
            f"Amazon denied access to {operation} ({error_text(exc)}): give the app the "
            f"{role} role and authorize it again"
        )
        return Waiting(f"waiting: {_account_problem(account, detail)}")
    if isinstance(exc, AuthorizationError) and _lwa_refused(exc):
        return Waiting(f"waiting: {_account_problem(account, _lwa_text(exc))}")
    if isinstance(exc, AmazonError) and exc.kind in ACCOUNT_KINDS:
        return Waiting(f"waiting: {_account_problem(account, str(exc))}")
    if isinstance(exc, AmazonError) and exc.kind == "config":
        mark_account(account, "error", str(exc))  # the installation's to fix, not Amazon's
        return f"waiting: {exc}"
    what = _transient(exc)
    if what is not None:
        seconds = recheck_after(account, operation, exc)
        log.info(
            "%s for account %s failed (%s); again in %.0f s", operation, account.id, what, seconds
        )
        return Waiting(
            f"waiting: {what}; asking again in about {max(1, round(seconds / 60))} min",
            recheck_after=seconds,
        )
    if isinstance(exc, SellingApiException):
        return f"waiting: Amazon answered {exc.code}: {error_text(exc)}"
    return f"waiting: could not read from Amazon ({type(exc).__name__}: {exc})"


def _throttled(account, operation: str, exc) -> SendResult:
    """A 429 on a POST: Amazon did nothing, and nobody is at fault (SP-API "Usage Plans
    and Rate Limits": the seller's bucket for the operation is empty until it refills;
    other apps of the same seller draw on it too). A throttled retry, due no sooner than
    ``client.retry_after`` says, which the dispatcher does not count as a failure."""
    seconds = retry_after(account, operation, exc)
    return SendResult(
        "retry",
        f"Amazon answered 429 (throttled: {error_text(exc)}); nothing was sent",
        retry_after=seconds,
        throttled=True,
    )


def _lwa_failed(account, exc: AuthorizationError) -> SendResult:
    """Login with Amazon failed before the POST was written: nothing was sent."""
    if _lwa_refused(exc):
        return SendResult("retry", _account_problem(account, _lwa_text(exc)))
    return SendResult("retry", f"{_transient(exc)}; nothing was sent")


def _post_failed(account, operation: str, exc: Exception) -> SendResult:
    """A POST that raised, judged alike for every Amazon channel. Each sender answers
    Amazon's 400 and 403 itself first: only their meaning differs per operation."""
    if isinstance(exc, SellingApiRequestThrottledException):
        return _throttled(account, operation, exc)
    if isinstance(exc, SellingApiException):
        # A 5xx: Amazon may have recorded it. In doubt, never resent blindly (reconcile
        # asks the actions endpoint where there is one).
        return SendResult("in_doubt", f"Amazon answered {exc.code}: {error_text(exc)}")
    if isinstance(exc, AuthorizationError):
        # The access token is fetched before the request is written: nothing was sent.
        return _lwa_failed(account, exc)
    if isinstance(exc, httpx.ConnectError):
        # The connection failed before a request could be written: nothing was sent.
        return SendResult("retry", f"could not connect to Amazon: {exc}")
    if isinstance(exc, httpx.TimeoutException):
        return SendResult(
            "in_doubt", f"no answer after the request was sent ({type(exc).__name__})"
        )
    return SendResult("in_doubt", f"connection broke during the request: {exc}")


def _offered(engine, account, order, api_cls, operation: str, method: str) -> set[str]:
    """The action names Amazon offers for the order now (the "ask first" call)."""
    client = make_client(engine, account, api_cls, order.marketplace)
    response = call(
        account, operation, getattr(client, method), order.order_id, marketplaceIds=[_mid(order)]
    )
    return _actions(response)


# -- Request a Review -------------------------------------------------------------------

NOT_OFFERED_YET = (
    "waiting: Amazon does not offer Request a Review for this order yet (re-checked daily)"
)
# An empty action list may mean "not yet" (Solicitations API): the dispatcher asks again a
# day later (core's RECHECK_WAITING), until the window's close. The last question is put
# this long before the close, so the message ends with Amazon's answer rather than past
# the window.
LAST_ASK_BEFORE_CLOSE = timedelta(hours=1)


def _not_offered(engine, order):
    """Amazon did not offer Request a Review: ask again daily until the window's latest
    possible close, then end saying Amazon never offered it.

    The window is the order's review-request window. For an order Amazon gave no
    delivery date for it is estimated, and an imported order's runs to 30 days after the
    latest delivery still possible, so a late real delivery is still asked about. Without
    a window the vetoes end the message at its time bound.
    """
    window = engine.review_window(order)
    if window is None:
        return NOT_OFFERED_YET
    left = window.closes - utcnow()
    if left <= LAST_ASK_BEFORE_CLOSE:
        return (
            f"{NEVER_OFFERED} for this order (asked daily "
            f"until the window's latest possible close on {window.closes:%Y-%m-%d})"
        )
    if left < RECHECK_WAITING + LAST_ASK_BEFORE_CLOSE:
        # Tomorrow's check would come after the close: ask once more just before it.
        return Waiting(
            NOT_OFFERED_YET, recheck_after=(left - LAST_ASK_BEFORE_CLOSE).total_seconds()
        )
    return NOT_OFFERED_YET


def review_preflight(engine, message, order):
    account = _account(order)
    try:
        actions = _offered(
            engine,
            account,
            order,
            ModelSolicitations,
            "getSolicitationActionsForOrder",
            "get_solicitation_actions_for_order",
        )
    except READ_ERRORS as exc:
        return _read_problem(account, exc, "getSolicitationActionsForOrder")
    if REVIEW_ACTION in actions:
        return None
    return _not_offered(engine, order)


def review_send(engine, message, order, rendered):
    account = _account(order)
    try:
        client = make_client(engine, account, ModelSolicitations, order.marketplace)
    except AmazonError as exc:  # nothing was sent: the seller must fix the account
        return SendResult("retry", _account_problem(account, str(exc)))
    try:
        call(
            account,
            REVIEW_POST,
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
    except SellingApiBadRequestException as exc:
        return SendResult("failed", f"Amazon answered 400: {error_text(exc)}")
    except POST_ERRORS as exc:
        return _post_failed(account, REVIEW_POST, exc)
    return SendResult("sent", "Amazon accepted the Request a Review")


def review_reconcile(engine, message, order):
    """In doubt: if Amazon still offers the action, the request did not go through."""
    account = _account(order)
    try:
        actions = _offered(
            engine,
            account,
            order,
            ModelSolicitations,
            "getSolicitationActionsForOrder",
            "get_solicitation_actions_for_order",
        )
    except READ_ERRORS:
        return None
    if REVIEW_ACTION in actions:
        return "not_sent"
    window = engine.review_window(order)
    inside = window is not None and window.opens <= utcnow() <= window.closes
    # Inside the window, a vanished action means our request was recorded.
    return "sent" if inside else None


# -- Messaging ------------------------------------------------------------------------


def buyer_locale(payload) -> str:
    """The buyer's locale (``de-DE``, ``fr-FR``...) of a getAttributes answer, or ""."""
    buyer = (payload or {}).get("buyer") if isinstance(payload, dict) else None
    return (buyer or {}).get("locale") or ""


def upload_destination(payload) -> tuple[str, str, dict]:
    """(destination id, URL, headers to PUT with) of a createUploadDestinationForResource
    answer's payload; AmazonError when the id or URL is missing."""
    payload = payload if isinstance(payload, dict) else {}
    destination, url = payload.get("uploadDestinationId"), payload.get("url")
    if not destination or not url:
        raise AmazonError("malformed", "the upload answer has no uploadDestinationId or url")
    return destination, url, dict(payload.get("headers") or {})


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
    except READ_ERRORS as exc:
        return _read_problem(account, exc, "getAttributes")
    locale = buyer_locale(response.payload)
    if locale and locale != order.buyer_locale:
        Order.update(buyer_locale=locale).where(Order.id == order.id).execute()
        order.buyer_locale = locale
    return None


def messaging_preflight(engine, message, order):
    kind = message_kind(message)
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
    except READ_ERRORS as exc:
        return _read_problem(account, exc, "getMessagingActionsForOrder")
    if MESSAGE_TYPES[kind][0] not in actions:
        return f"waiting: Amazon does not allow {kind} for this order now (re-checked daily)"
    return None


def _upload(engine, account, order, kind: str, attachment) -> dict:
    """Uploads API: a destination for this message's resource, then the PUT of the bytes
    to the returned URL with exactly the returned headers (docs/amazon-rules.md §2)."""
    client = make_client(engine, account, ModelUpload, order.marketplace)
    resource = f"messaging/v1/orders/{order.order_id}/messages/{PATH_SEGMENT[kind]}"
    response = call(
        account,
        UPLOAD_OPERATION,
        client.create_upload_destination_for_resource,
        resource,
        attachment.data,
        attachment.content_type,
        write=True,
    )
    destination, url, headers = upload_destination(response.payload)
    timeout = float(engine.plugin_setting("amazon", "timeout", default=TIMEOUT))
    put = httpx.put(url, content=attachment.data, headers=headers, timeout=timeout)
    if put.status_code >= 300:
        raise AmazonError(
            "server",
            f"uploading {attachment.filename} failed with HTTP {put.status_code}: {put.text[:120]}",
        )
    return {"uploadDestinationId": destination, "fileName": attachment.filename}


def messaging_send(engine, message, order, rendered):
    """Send one Messaging API message; every rule Amazon would answer 400 for is checked
    before the call, and attachments are uploaded first (nothing is sent if that fails)."""
    kind = message_kind(message)
    _, method, limit = MESSAGE_TYPES[kind]
    if limit is not None and len(rendered.text) > limit:
        # Enforced before the call: Amazon would answer 400 (Messaging API text limits).
        return SendResult(
            "failed", f"text is {len(rendered.text)} characters; {kind} allows {limit}"
        )
    attachments = list(rendered.attachments or ())
    dropped = ""
    if attachments and kind not in TAKES_ATTACHMENTS:
        dropped = f"; {len(attachments)} attachment(s) left out: {kind} takes none"
        attachments = []
    if kind in NEEDS_ATTACHMENT and not attachments:
        return SendResult(
            "failed", f"{kind} needs an attachment (PDF) and no plugin provided one for this order"
        )
    if len(attachments) > MAX_ATTACHMENTS:
        return SendResult(
            "failed", f"{len(attachments)} attachments; Amazon allows {MAX_ATTACHMENTS}"
        )
    account = _account(order)
    body: dict = {"text": rendered.text} if limit is not None else {}
    try:
        client = make_client(engine, account, Messaging, order.marketplace)
        if attachments:
            body["attachments"] = [_upload(engine, account, order, kind, a) for a in attachments]
    except SellingApiRequestThrottledException as exc:
        return _throttled(account, UPLOAD_OPERATION, exc)
    except AuthorizationError as exc:
        return _lwa_failed(account, exc)
    except Exception as exc:  # noqa: BLE001 - before the message itself: nothing was sent
        if isinstance(exc, AmazonError) and exc.kind in ACCOUNT_KINDS:
            return SendResult("retry", _account_problem(account, str(exc)))
        # Trying again is safe: the buyer has received nothing yet.
        text = error_text(exc) if isinstance(exc, SellingApiException) else str(exc)
        log.warning("message %s: attachment upload failed: %s", message.id, text)
        return SendResult("retry", f"attachment upload failed, message not sent: {text}")
    try:
        call(
            account,
            MESSAGING_OPERATION,
            getattr(client, method),
            order.order_id,
            body=body,
            marketplaceIds=[_mid(order)],
            write=True,
        )
    except (SellingApiBadRequestException, SellingApiForbiddenException) as exc:
        return SendResult("failed", f"Amazon answered {exc.code}: {error_text(exc)}")
    except POST_ERRORS as exc:
        # In doubt stays in doubt here: the Messaging API cannot tell whether the buyer
        # got it, so the seller checks Seller Central's sent messages.
        return _post_failed(account, MESSAGING_OPERATION, exc)
    n = len(body.get("attachments", []))
    with_files = f" with {n} attachment(s)" if n else ""
    return SendResult("sent", f"Amazon accepted {kind}{with_files}{dropped}")


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
