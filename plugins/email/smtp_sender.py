"""The ``email`` sender: Buyer-Seller Messaging through the seller's own SMTP server.

Amazon's rules encoded here (docs/amazon-rules.md §2.3 and §3):
* Mail goes from the seller's registered address to the buyer's anonymized relay address
  (``…@marketplace.amazon.<tld>``); Amazon relays and scans it. Mail to any other address
  would bypass Buyer-Seller Messaging, so it is refused.
* The 17-digit order ID is in every message: the subject gets "(Order: …)" if it lacks it.
* ``[Important]`` in the subject bypasses a buyer's opt-out and is reserved for messages
  critical to completing the order; misuse risks suspension. It is added for steps marked
  critical and removed from every other subject.
* Attachments: .txt .doc .docx .pdf .jpg .gif .bmp .png .tiff only, 10 MB in total.

Test sends (``send_test``): the seller's own ``SellerAccount.test_address`` only, never a
relay address; subject ``[TEST] …``, header ``X-Followup-Test: 1``, the same MIME build as a
real send. No Message row is involved, so a test can never count as a buyer message.

Delivery guarantees: the Message-ID is derived from the Followup message id and the order
id, so a resend after a crash is recognisable in the Sent folder and by the relay. A
timeout or a dropped connection once DATA has started may mean the server accepted the
mail, so the message goes *in doubt* instead of being retried blindly.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import smtplib
import socket
import ssl
from datetime import UTC
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr

from core import ATTACHMENT_MAX_BYTES, ATTACHMENT_TYPES, SendResult, Step, utcnow

from .config import PLUGIN, ConfigProblem, ServerConfig, from_address, smtp_config
from .imap_reader import sent_folder_has

log = logging.getLogger(__name__)

# 7bit: non-ASCII text goes quoted-printable/base64, so no server needs 8BITMIME.
POLICY = SMTP_POLICY.clone(cte_type="7bit")
ALLOWED_EXTENSIONS = frozenset(ATTACHMENT_TYPES)  # the relay's list, one table for upload and send
MAX_ATTACHMENT_BYTES = ATTACHMENT_MAX_BYTES
RELAY_DOMAIN = re.compile(r"@marketplace\.amazon\.[a-z.]+$", re.IGNORECASE)
IMPORTANT = re.compile(r"\s*\[\s*important\s*\]\s*", re.IGNORECASE)
NO_RELAY = "skipped: no buyer relay address for this order"


def is_relay_address(address: str) -> bool:
    """True for Amazon's anonymized buyer addresses (``…@marketplace.amazon.<tld>``)."""
    return bool(RELAY_DOMAIN.search((address or "").strip()))


def message_id_for(message, order, sender_address: str) -> str:
    """The deterministic Message-ID of a Followup message (same on every attempt)."""
    domain = sender_address.rsplit("@", 1)[-1].strip().lower() or "followup.invalid"
    safe_order = re.sub(r"[^0-9A-Za-z-]", "", order.order_id)
    return f"<followup.{message.id}.{safe_order}@{domain}>"


def _is_critical(message) -> bool:
    step_id = getattr(message, "step_id", None)
    if not step_id:
        return False
    step = Step.get_or_none(Step.id == step_id)
    return bool(step and step.critical)


def subject_for(rendered_subject: str, order_id: str, critical: bool) -> str:
    """The subject as it leaves: order id present, ``[Important]`` only when critical."""
    subject = " ".join((rendered_subject or "").split())  # one line: no header injection
    cleaned = IMPORTANT.sub(" ", subject).strip()
    if cleaned != subject and not critical:
        log.warning(
            "removed [Important] from a non-critical subject for order %s: Amazon reserves "
            "it for messages critical to completing the order",
            order_id,
        )
    subject = cleaned or "Your order"
    if order_id not in subject:
        subject = f"{subject} (Order: {order_id})"
    if critical:
        subject = f"[Important] {subject}"
    return subject


def check_attachments(attachments) -> str | None:
    """None when Amazon's relay accepts the attachments, else the reason it would not."""
    total = 0
    for attachment in attachments:
        ext = os.path.splitext(attachment.filename)[1].lower()
        if ext not in ALLOWED_EXTENSIONS:
            allowed = " ".join(sorted(ALLOWED_EXTENSIONS))
            return (
                f"attachment {attachment.filename!r}: Amazon's Buyer-Seller Messaging accepts "
                f"only {allowed}"
            )
        total += len(attachment.data)
    if total > MAX_ATTACHMENT_BYTES:
        return (
            f"attachments total {total / 1024 / 1024:.1f} MB; Amazon's Buyer-Seller "
            "Messaging accepts at most 10 MB per message"
        )
    return None


def build_message(message, order, rendered, sender_address: str, critical: bool) -> EmailMessage:
    """The MIME message: text (and HTML alternative), attachments, deterministic ids."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = sender_address
    mail["To"] = order.buyer_email
    mail["Subject"] = subject_for(rendered.subject, order.order_id, critical)
    mail["Date"] = format_datetime(utcnow().replace(tzinfo=UTC))
    mail["Message-ID"] = message_id_for(message, order, sender_address)
    _add_content(mail, rendered)
    return mail


def _add_content(mail: EmailMessage, rendered) -> None:
    """Text, the HTML alternative and the attachments: the same for real and test sends."""
    mail.set_content(rendered.text or "")
    if rendered.html:
        mail.add_alternative(rendered.html, subtype="html")
    for attachment in rendered.attachments:
        ctype = attachment.content_type or mimetypes.guess_type(attachment.filename)[0]
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        mail.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )


def preflight(engine, message, order) -> str | None:
    """Refuse orders without a relay address; wait while the channel is not configured."""
    if not order.buyer_email:
        return NO_RELAY
    if not is_relay_address(order.buyer_email):
        return (
            "skipped: the buyer address is not an Amazon relay address "
            "(…@marketplace.amazon.<tld>); mail outside Buyer-Seller Messaging is not allowed"
        )
    try:
        from_address(engine, order.marketplace)
        smtp_config(engine, order.marketplace)
    except ConfigProblem as exc:
        return f"waiting: email channel not configured: {exc}"
    return None


def _connect(cfg: ServerConfig) -> smtplib.SMTP:
    if cfg.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            cfg.host, cfg.port, timeout=cfg.timeout, context=cfg.ssl_context()
        )
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
    try:
        smtp.ehlo()
        if cfg.security == "starttls":
            smtp.starttls(context=cfg.ssl_context())
            smtp.ehlo()
        if cfg.username:
            smtp.login(cfg.username, cfg.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _by_code(code: int, what: str) -> SendResult:
    """SMTP reply classes: 4xx is temporary (retry), 5xx permanent (failed)."""
    status = "retry" if 400 <= code < 500 else "failed"
    return SendResult(status, f"{what}: {code}")


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(str(text).split())}"[:300]


def send(engine, message, order, rendered) -> SendResult:
    """Send one message through the seller's SMTP server; see the module doc."""
    if not order.buyer_email or not is_relay_address(order.buyer_email):
        return SendResult("skipped", NO_RELAY)
    try:
        sender_address = from_address(engine, order.marketplace)
        cfg = smtp_config(engine, order.marketplace)
    except ConfigProblem as exc:
        return SendResult("retry", f"email channel not configured: {exc}")
    problem = check_attachments(rendered.attachments)
    if problem:
        return SendResult("failed", problem)
    mail = build_message(message, order, rendered, sender_address, _is_critical(message))
    mid = mail["Message-ID"]
    envelope_from = parseaddr(sender_address)[1] or sender_address
    phase = "connect"
    smtp = None
    try:
        smtp = _connect(cfg)
        phase = "envelope"
        code, text = smtp.mail(envelope_from)
        if code != 250:
            return _by_code(code, f"sender address refused: {_reply(code, text)}")
        code, text = smtp.rcpt(order.buyer_email)
        if code not in (250, 251):
            return _by_code(code, f"buyer relay address refused: {_reply(code, text)}")
        # From here on the server may have the whole message: see the module doc.
        phase = "data"
        code, text = smtp.data(mail.as_bytes(policy=POLICY))
        if code != 250:
            return _by_code(code, f"message refused after DATA: {_reply(code, text)}")
        phase = "done"
        log.info("email for order %s accepted by %s as %s", order.order_id, cfg.host, mid)
        return SendResult("sent", f"accepted by {cfg.host}: {_reply(code, text)}", external_id=mid)
    except smtplib.SMTPAuthenticationError as exc:
        return SendResult(
            "failed",
            f"SMTP login refused ({exc.smtp_code}): check smtp_username and the password",
        )
    except smtplib.SMTPResponseException as exc:
        # Greeting, HELO, STARTTLS, or the DATA command itself (refused before any content).
        return _by_code(exc.smtp_code, f"SMTP server said {_reply(exc.smtp_code, exc.smtp_error)}")
    except smtplib.SMTPNotSupportedError as exc:
        return SendResult("failed", f"SMTP server does not support {cfg.security}: {exc}")
    except ssl.SSLCertVerificationError as exc:
        return SendResult(
            "failed",
            f"the certificate of {cfg.host} cannot be verified ({exc.verify_message}); "
            "set tls_ca_file to trust a private CA",
        )
    except (smtplib.SMTPServerDisconnected, TimeoutError, OSError) as exc:
        what = type(exc).__name__
        if phase == "data":
            # The final "." may have reached the server before the connection broke.
            return SendResult(
                "in_doubt",
                f"{what} after DATA started: {cfg.host} may have accepted {mid}",
                external_id=mid,
            )
        if isinstance(exc, socket.gaierror):
            return SendResult("retry", f"cannot resolve {cfg.host}: {exc}")
        return SendResult("retry", f"{what} while talking to {cfg.host}:{cfg.port} ({phase})")
    finally:
        if smtp is not None:
            try:
                if phase == "done":
                    smtp.quit()
                else:
                    smtp.close()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def reconcile(engine, message, order) -> str | None:
    """ "sent" when the IMAP Sent folder holds the message's Message-ID, else unknown.

    An absent copy proves nothing (many servers keep no copy of SMTP mail), so this never
    answers "not_sent" and an in-doubt message waits for a person.
    """
    if not order.buyer_email:
        return None
    try:
        sender_address = from_address(engine, order.marketplace)
    except ConfigProblem:
        return None
    mid = message_id_for(message, order, sender_address)
    return "sent" if sent_folder_has(engine, order.marketplace, mid) else None


# -- test send to the seller's own address ---------------------------------------------

TEST_PREFIX = "[TEST]"
TEST_HEADER = "X-Followup-Test"


def marked_test_subject(rendered_subject: str) -> str:
    """``[TEST] …``: one line, no ``[Important]`` (a preview is never critical)."""
    subject = IMPORTANT.sub(" ", " ".join((rendered_subject or "").split())).strip()
    return f"{TEST_PREFIX} {subject or 'Template preview'}"


def _test_refusal(account, address: str) -> str | None:
    """Why ``address`` may not receive a test, or None: only the account's own test inbox.

    A buyer relay address is refused even when a seller typed it as the test address: a
    test is not a Buyer-Seller message (no order purpose, ``[TEST]`` subject), so it must
    never reach a buyer through Amazon's relay (docs/amazon-rules.md §2.3, §3).
    """
    to = parseaddr(address or "")[1].strip()
    if not to or "@" not in to or any(c in to for c in "\r\n,; "):
        return f"skipped: {address!r} is not an email address; set a test address on the account"
    if is_relay_address(to):
        return (
            f"refused: {to} is an Amazon buyer relay address; a test goes only to your own "
            "address (set a test address of your own on the account)"
        )
    own = parseaddr((getattr(account, "test_address", "") or "").strip())[1].strip()
    if not own:
        return "skipped: the account has no test address; set one on the Accounts page"
    if own.lower() != to.lower():
        return f"refused: tests go only to the account's own test address ({own}), not {to}"
    return None


def _test_marketplace(account, marketplace: str) -> str:
    if marketplace:
        return marketplace
    codes = list(getattr(account, "marketplaces", None) or [])
    return codes[0] if codes else ""


def build_test_message(rendered, sender_address: str, to: str) -> EmailMessage:
    """The MIME build of a real send (text, HTML, attachments), marked as a test."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = sender_address
    mail["To"] = to
    mail["Subject"] = marked_test_subject(rendered.subject)
    mail["Date"] = format_datetime(utcnow().replace(tzinfo=UTC))
    domain = sender_address.rsplit("@", 1)[-1].strip().lower() or "followup.invalid"
    mail["Message-ID"] = make_msgid("followup-test", domain=domain)
    mail[TEST_HEADER] = "1"
    _add_content(mail, rendered)
    return mail


def send_test(engine, account, rendered, address, marketplace: str = "") -> SendResult:
    """Email ``rendered`` to the seller's own test address through the seller's SMTP server.

    ``sent``: the server accepted it. ``skipped``: nothing left, the detail says why (not
    the account's own address, a relay address, the channel off or not configured).
    ``failed``: the server refused it or could not be reached (a test is never retried).
    The subject starts with ``[TEST]`` and the mail carries ``X-Followup-Test: 1``.
    """
    refusal = _test_refusal(account, address)
    if refusal:
        return SendResult("skipped", refusal)
    to = parseaddr(address)[1].strip()
    mkt = _test_marketplace(account, marketplace)
    if mkt and not engine.plugin_enabled(PLUGIN, mkt):
        return SendResult(
            "skipped", f"the email plugin is switched off for {mkt}: enable it on the Plugins page"
        )
    try:
        sender_address = from_address(engine, mkt)
        cfg = smtp_config(engine, mkt)
    except ConfigProblem as exc:
        return SendResult("skipped", f"the email plugin is not configured: {exc}")
    problem = check_attachments(rendered.attachments)
    if problem:
        return SendResult("failed", problem)
    mail = build_test_message(rendered, sender_address, to)
    envelope_from = parseaddr(sender_address)[1] or sender_address
    smtp = None
    try:
        smtp = _connect(cfg)
        smtp.sendmail(envelope_from, [to], mail.as_bytes(policy=POLICY))
        smtp.quit()
        smtp = None
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return SendResult("failed", f"{to} refused by {cfg.host}: {_reply(code, text)}")
    except smtplib.SMTPAuthenticationError as exc:
        return SendResult(
            "failed",
            f"SMTP login refused ({exc.smtp_code}): check smtp_username and the password",
        )
    except smtplib.SMTPResponseException as exc:
        return SendResult("failed", f"SMTP server said {_reply(exc.smtp_code, exc.smtp_error)}")
    except ssl.SSLCertVerificationError as exc:
        return SendResult(
            "failed",
            f"the certificate of {cfg.host} cannot be verified ({exc.verify_message}); "
            "set tls_ca_file to trust a private CA",
        )
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult("failed", f"{type(exc).__name__} while talking to {cfg.host}:{cfg.port}")
    finally:
        if smtp is not None:
            smtp.close()
    log.info("test email accepted by %s for the account's test address", cfg.host)
    return SendResult("sent", f"emailed to {to} through {cfg.host}", external_id=mail["Message-ID"])
