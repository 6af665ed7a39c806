"""The ``email_inbox`` job: read the seller's inbox over IMAP, act on buyer mail.

Buyer replies arrive only by email (the SP-API cannot read buyer messages, docs/amazon-rules.md
§2.3), so this is the one place Followup can notice them:
* a buyer reply is recorded (``core.inbox``; Amazon expects an answer within 24 hours)
  and, with ``stop_on_reply``, the rest of that order's sequence is cancelled: the most
  common complaint about follow-up tools is sequences that keep going after a reply;
* Amazon's bounce for a buyer who opted out of unsolicited messages puts the buyer on the
  opt-out list, so only messages critical to the order ([Important]) go to them again.

The mailbox is opened read-only and bodies are fetched with BODY.PEEK, so nothing is
marked as read: the seller still sees every mail in their own client. Progress is kept as
UIDVALIDITY + last UID; a first read (or a changed UIDVALIDITY) looks back 30 days, and
recording is idempotent on the Message-ID, so reading a mail twice does nothing twice.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import re
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from email.utils import parseaddr, parsedate_to_datetime
from html import unescape

from core import add_opt_out, record_buyer_message, stop_order_messages, to_naive_utc, utcnow

from .config import PLUGIN, ConfigProblem, ServerConfig, imap_config, setting
from .matching import OPT_OUT_BOUNCE, OTHER, REPLY, Incoming, classify, match_order

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 30
MAX_PER_RUN = 200
TEXT_BYTES = 256 * 1024  # enough to find an order id; attachments are not fetched
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ImapProblem(Exception):
    """The server refused something; the text says what (never a password)."""


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def connect(cfg: ServerConfig) -> imaplib.IMAP4:
    """A logged-in IMAP connection (IMAPS, STARTTLS or plain, as configured)."""
    if cfg.security == "tls":
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            cfg.host, cfg.port, ssl_context=cfg.ssl_context(), timeout=cfg.timeout
        )
    else:
        imap = imaplib.IMAP4(cfg.host, cfg.port, timeout=cfg.timeout)
        if cfg.security == "starttls":
            imap.starttls(ssl_context=cfg.ssl_context())
    try:
        imap.login(cfg.username, cfg.password)
    except imaplib.IMAP4.error:
        imap.shutdown()
        raise ImapProblem(f"IMAP login to {cfg.host} refused for {cfg.username}") from None
    return imap


def _logout(imap: imaplib.IMAP4) -> None:
    try:
        imap.logout()
    except (imaplib.IMAP4.error, OSError):
        pass


def _select(imap: imaplib.IMAP4, folder: str) -> int:
    """Open ``folder`` read-only; returns its UIDVALIDITY."""
    typ, _ = imap.select(_quote(folder), readonly=True)
    if typ != "OK":
        raise ImapProblem(f"cannot open the IMAP folder {folder!r}")
    _, values = imap.response("UIDVALIDITY")
    return int(values[0]) if values and values[0] else 0


def _search(imap: imaplib.IMAP4, *criteria: str) -> list[int]:
    typ, data = imap.uid("SEARCH", None, *criteria)
    if typ != "OK":
        raise ImapProblem(f"IMAP SEARCH {' '.join(criteria)} failed")
    return sorted(int(x) for x in b" ".join(d for d in data if d).split())


def _fetch(imap: imaplib.IMAP4, uid: int) -> bytes | None:
    """Headers and the first ``TEXT_BYTES`` of the body of one mail."""
    typ, data = imap.uid("FETCH", str(uid), f"(BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.{TEXT_BYTES}>)")
    if typ != "OK":
        return None
    header = text = b""
    for item in data:
        if isinstance(item, tuple):
            label = item[0].upper()
            if b"BODY[HEADER]" in label:
                header = item[1]
            elif b"BODY[TEXT]" in label:
                text = item[1]
    return header + text if header else None


def _plain(html: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    return unescape(re.sub(r"<[^>]+>", " ", text))


def parse(raw: bytes, fallback_id: str) -> Incoming:
    """Reduce a raw mail to an ``Incoming`` (a truncated body still parses)."""
    mail = message_from_bytes(raw, policy=default_policy)
    address = parseaddr(str(mail.get("From", "")))[1].strip().lower()
    subject = " ".join(str(mail.get("Subject", "")).split())
    text = ""
    try:
        body = mail.get_body(preferencelist=("plain", "html"))
        if body is not None:
            content = body.get_content()
            text = _plain(content) if body.get_content_subtype() == "html" else content
    except (LookupError, ValueError, KeyError, AttributeError):
        text = ""  # a broken MIME part: the subject may still carry the order id
    now = utcnow()
    try:
        parsed = parsedate_to_datetime(str(mail["Date"])) if mail.get("Date") else None
        received = to_naive_utc(parsed) or now  # a "-0000" (naive) date is taken as UTC
    except (TypeError, ValueError, IndexError):
        received = now
    message_id = str(mail.get("Message-ID", "")).strip() or fallback_id
    return Incoming(message_id, address, subject, text, min(received, now))


def _stop_on_reply(engine, order) -> bool:
    if not engine.plugin_enabled(PLUGIN, order.marketplace):
        return False
    value = setting(engine, "stop_on_reply", order.marketplace, True)
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


def handle(engine, mail: Incoming) -> str | None:
    """Record one mail and act on it; returns what it was (None: not ours)."""
    kind = classify(mail)
    if kind is None:
        return None
    order = match_order(mail)
    excerpt = " ".join(mail.text.split())[:1000]
    row, created = record_buyer_message(
        message_id=mail.message_id,
        from_address=mail.from_address,
        subject=mail.subject,
        received_at=mail.received_at,
        kind=kind,
        order=order,
        body_excerpt=excerpt,
    )
    if not created or order is None:
        if created and kind != OTHER:
            log.warning("%s from %s matches no known order", kind, mail.from_address)
        return kind
    when = f"{mail.received_at:%Y-%m-%d}"
    if kind == REPLY and not order.messages_stopped and _stop_on_reply(engine, order):
        cancelled = stop_order_messages(order, f"stopped: buyer replied on {when}", by=PLUGIN)
        log.info("order %s: buyer replied, %d message(s) cancelled", order.order_id, cancelled)
    elif kind == OPT_OUT_BOUNCE:
        if order.buyer_key:
            add_opt_out(
                order.buyer_key,
                "opt_out",
                f"Amazon bounced a message for order {order.order_id} on {when}: the buyer "
                "opted out of unsolicited messages",
                by=PLUGIN,
            )
        elif not order.messages_stopped:
            # The Orders API gives no buyer address without Amazon's restricted buyer-data
            # role, so this buyer cannot be recognised on other orders: at least this
            # order's sequence must not write to a buyer who opted out.
            cancelled = stop_order_messages(
                order,
                f"stopped: the buyer opted out (Amazon bounce on {when}); no buyer identity "
                "to apply it to other orders",
                by=PLUGIN,
            )
            log.info("order %s: opt-out bounce, %d message(s) cancelled", order.order_id, cancelled)
    return kind


def _state_key(cfg: ServerConfig, folder: str) -> str:
    digest = hashlib.sha1(
        repr((*cfg.identity, folder)).encode(), usedforsecurity=False
    ).hexdigest()[:16]
    return f"inbox_state_{digest}"


def _since(days: int) -> str:
    day = utcnow() - timedelta(days=days)
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"  # IMAP dates are English


def read_mailbox(engine, cfg: ServerConfig, folder: str, stats: Counter) -> None:
    """Read the mail that arrived since the last run in one mailbox folder."""
    key = _state_key(cfg, folder)
    state = engine.plugin_setting(PLUGIN, key, "", None) or {}
    imap = connect(cfg)
    try:
        uidvalidity = _select(imap, folder)
        last = int(state.get("uid", 0)) if state.get("uidvalidity") == uidvalidity else None
        if last is None:
            uids = _search(imap, "SINCE", _since(LOOKBACK_DAYS))
            last = 0
        else:
            uids = [u for u in _search(imap, "UID", f"{last + 1}:*") if u > last]
        for uid in uids[:MAX_PER_RUN]:
            raw = _fetch(imap, uid)
            if raw is not None:
                # No Message-ID: the raw headers identify the mail across UIDVALIDITY resets.
                digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:24]
                fallback = f"<followup-imap.{digest}@{cfg.host}>"
                try:
                    kind = handle(engine, parse(raw, fallback))
                except Exception:  # noqa: BLE001 - one odd mail must not block the inbox
                    log.exception("email inbox: cannot handle UID %s in %s", uid, folder)
                    kind = "error"
                stats[kind or "ignored"] += 1
            last = uid
            engine.set_plugin_setting(PLUGIN, key, {"uidvalidity": uidvalidity, "uid": last})
        if not uids:
            engine.set_plugin_setting(PLUGIN, key, {"uidvalidity": uidvalidity, "uid": last})
    finally:
        _logout(imap)


def mailboxes(engine) -> list[tuple[ServerConfig, str]]:
    """The distinct (server, folder) pairs configured for marketplaces using the plugin."""
    found: dict[tuple, tuple[ServerConfig, str]] = {}
    problems: dict[str, str] = {}  # one warning per problem, not one per marketplace
    for code in list(engine.marketplaces) or [""]:
        if code and not engine.plugin_enabled(PLUGIN, code):
            continue
        try:
            cfg = imap_config(engine, code)
        except ConfigProblem as exc:
            problems.setdefault(str(exc), code or "all marketplaces")
            continue
        if cfg is None:
            continue
        folder = (setting(engine, "imap_folder", code) or "INBOX").strip()
        found.setdefault((*cfg.identity, folder), (cfg, folder))
    for problem, code in problems.items():
        log.warning("email inbox (%s and maybe others): %s", code, problem)
    return list(found.values())


def run_inbox(engine) -> dict:
    """Job entry point: read every configured inbox; returns counts per kind of mail."""
    stats: Counter = Counter()
    for cfg, folder in mailboxes(engine):
        try:
            read_mailbox(engine, cfg, folder, stats)
        except (ImapProblem, imaplib.IMAP4.error, OSError) as exc:
            log.warning("email inbox %s on %s: %s", folder, cfg.host, exc)
            stats["errors"] += 1
    if stats:
        log.info("email inbox: %s", dict(stats))
    return dict(stats)


def sent_folder_has(engine, marketplace: str, message_id: str) -> bool:
    """Whether the configured Sent folder (``imap_sent_folder``) holds ``message_id``."""
    folder = (setting(engine, "imap_sent_folder", marketplace) or "").strip()
    if not folder:
        return False
    try:
        cfg = imap_config(engine, marketplace)
    except ConfigProblem:
        return False
    if cfg is None:
        return False
    try:
        imap = connect(cfg)
    except (ImapProblem, imaplib.IMAP4.error, OSError) as exc:
        log.warning("reconcile: cannot read %s on %s: %s", folder, cfg.host, exc)
        return False
    try:
        _select(imap, folder)
        return bool(_search(imap, "HEADER", "Message-ID", _quote(message_id)))
    except (ImapProblem, imaplib.IMAP4.error, OSError) as exc:
        log.warning("reconcile: cannot search %s on %s: %s", folder, cfg.host, exc)
        return False
    finally:
        _logout(imap)
