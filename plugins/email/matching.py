"""What a received mail is, and which order it belongs to.

Pure functions over a parsed mail (``Incoming``), plus the order lookup:
* a mail from a buyer's anonymized address (``…@marketplace.amazon.<tld>``) is a buyer
  reply (docs/amazon-rules.md §2.3: the inbox is the only place buyer replies can be seen);
* a mail from an Amazon address saying the buyer has opted out of unsolicited messages is
  Amazon's bounce for an opted-out buyer. Amazon's wording (2017 onwards): "We were unable
  to deliver the message you sent for order [111-…] because the buyer has chosen to opt
  out of receiving unsolicited messages from sellers.";
* any other Amazon mail is kept as "other"; everything else is not ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from core import Order, find_order

# Amazon order ids are 3-7-7 digits (docs/amazon-rules.md §3: "the 17-digit order ID").
ORDER_ID = re.compile(r"(?<!\d)(\d{3}-\d{7}-\d{7})(?!\d)")
RELAY = re.compile(r"@marketplace\.amazon\.[a-z]{2,3}(?:\.[a-z]{2})?$", re.IGNORECASE)
AMAZON = re.compile(r"@(?:[a-z0-9-]+\.)*amazon\.[a-z]{2,3}(?:\.[a-z]{2})?$", re.IGNORECASE)
OPT_OUT = re.compile(
    r"buyer\s+has\s+(?:chosen|opted|elected|decided)\s+(?:to\s+)?(?:opt[\s-]*out|out|not\s+to\s+receive)"
    r"|opted[\s-]*out\s+of\s+(?:receiving\s+)?(?:unsolicited|non[\s-]*critical)"
    r"|chosen\s+not\s+to\s+receive",
    re.IGNORECASE,
)

REPLY = "reply"
OPT_OUT_BOUNCE = "opt_out_bounce"
OTHER = "other"


@dataclass(frozen=True)
class Incoming:
    """A received mail, reduced to what matching needs."""

    message_id: str
    from_address: str  # the bare address, lower case
    subject: str
    text: str  # plain text of the body (HTML converted), possibly truncated
    received_at: datetime  # naive UTC


def is_buyer_relay(address: str) -> bool:
    return bool(RELAY.search(address or ""))


def is_amazon(address: str) -> bool:
    return bool(AMAZON.search(address or ""))


def order_ids(*texts: str) -> list[str]:
    """Every order id in ``texts``, first seen first, without repeats."""
    found: dict[str, None] = {}
    for text in texts:
        for match in ORDER_ID.finditer(text or ""):
            found.setdefault(match.group(1), None)
    return list(found)


def classify(mail: Incoming) -> str | None:
    """``reply``, ``opt_out_bounce``, ``other`` (Amazon mail) or None (not ours)."""
    if is_buyer_relay(mail.from_address):
        return REPLY
    if is_amazon(mail.from_address):
        if OPT_OUT.search(mail.subject) or OPT_OUT.search(mail.text):
            return OPT_OUT_BOUNCE
        return OTHER
    return None


def match_order(mail: Incoming) -> Order | None:
    """The order a mail is about: an order id in the subject, then the body, then (for a
    buyer's mail) the order whose relay address sent it, newest first."""
    for order_id in order_ids(mail.subject, mail.text):
        order = find_order(order_id)
        if order is not None:
            return order
    if is_buyer_relay(mail.from_address):
        return (
            Order.select()
            .where(Order.buyer_email.in_({mail.from_address, mail.from_address.lower()}))
            .order_by(Order.purchased_at.desc())
            .first()
        )
    return None
