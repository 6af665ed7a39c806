"""Where invoices come from, and the checks every invoice passes before it is attached.

Two sources, chosen per marketplace on the settings page:

* ``url``: a URL template such as ``https://invoices.example/{marketplace}/{order_id}.pdf``,
  fetched over HTTP(S) with a timeout (the seller's invoicing system or file server);
* ``folder``: a folder of PDF files named by order id (``302-1234567-1234567.pdf``); the
  folder may itself contain ``{marketplace}``.

Checks (Amazon accepts invoices as PDF attachments, docs/amazon-rules.md §2-§3): the file exists, it
is a PDF (starts with the magic bytes ``%PDF-``), and it is within the size limit (10 MB,
Amazon's attachment limit, or the seller's lower setting). Anything else raises
``InvoiceMissing`` with a reason the order trace shows; the plugin turns it into a retry,
because an invoice that is not there (or not right) yet usually appears later.
"""

from __future__ import annotations

import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from core import ATTACHMENT_SIGNATURES

from .config import InvoiceSettings

log = logging.getLogger(__name__)

PDF_MAGIC = ATTACHMENT_SIGNATURES[".pdf"][0]  # what the file library checks an uploaded PDF for
# Amazon order ids are 3-7-7 digits; anything else must never reach a path or a URL raw.
SAFE_ORDER_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,39}")
USER_AGENT = "Followup eu_vat invoice fetcher"


class InvoiceMissing(Exception):  # noqa: N818 - a state ("missing"), not a crash
    """The invoice is not usable (yet); ``reason`` is what the order trace shows."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Invoice:
    filename: str
    data: bytes = field(repr=False)
    where: str = ""


def fill(template: str, order_id: str, marketplace: str, *, for_url: bool) -> str:
    """The template with ``{order_id}`` and ``{marketplace}`` filled in (URL-quoted for URLs)."""
    if not SAFE_ORDER_ID.fullmatch(order_id or ""):
        raise InvoiceMissing(f"waiting: order id {order_id!r} cannot name an invoice file")
    quote = urllib.parse.quote if for_url else str
    return template.replace("{order_id}", quote(order_id)).replace(
        "{marketplace}", quote(marketplace)
    )


def shown(url: str) -> str:
    """A URL as shown in reasons and logs: without query string or user info (tokens)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def too_big(order_id: str, where: str, size: int, max_bytes: int) -> InvoiceMissing:
    """The problem of an invoice over the size limit."""
    return InvoiceMissing(
        f"waiting: invoice for {order_id} at {where} is {size / 1024 / 1024:.1f} MB, over "
        f"the {max_bytes / 1024 / 1024:g} MB limit (Amazon accepts attachments up to 10 MB); "
        "replace it with a smaller PDF"
    )


def check(data: bytes, where: str, order_id: str, max_bytes: int, content_type: str = "") -> None:
    """Raise ``InvoiceMissing`` unless ``data`` is a PDF within ``max_bytes``."""
    if len(data) > max_bytes:
        raise too_big(order_id, where, len(data), max_bytes)
    if not data.startswith(PDF_MAGIC):
        start = data[:16].decode("latin-1").replace("\n", " ").strip()
        what = f", {content_type}" if content_type else ""
        raise InvoiceMissing(
            f"waiting: invoice for {order_id} at {where} is not a PDF (starts with {start!r}{what})"
        )


def fetch_url(cfg: InvoiceSettings, order_id: str) -> Invoice:
    """Download the invoice from the seller's URL template; see the module doc."""
    url = fill(cfg.source, order_id, cfg.marketplace, for_url=True)
    where = shown(url)
    if not url.lower().startswith(("http://", "https://")):
        raise InvoiceMissing(
            f"waiting: invoice source for {cfg.marketplace} is set to url but {cfg.source!r} "
            "is not an http(s) address (Plugins page)"
        )
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        # The scheme is checked above: http or https only.
        with urllib.request.urlopen(request, timeout=cfg.timeout) as response:  # noqa: S310  # nosec B310
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > cfg.max_bytes:
                # Refuse before downloading: the size is known from the header.
                raise too_big(order_id, where, int(declared), cfg.max_bytes)
            data = response.read(cfg.max_bytes + 1)
            content_type = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        what = "not found" if exc.code in (404, 410) else "not available"
        raise InvoiceMissing(
            f"waiting: invoice for {order_id} {what} at {where} (HTTP {exc.code})"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", exc)
        raise InvoiceMissing(
            f"waiting: invoice for {order_id} could not be fetched from {where} "
            f"({type(exc).__name__}: {why})"
        ) from None
    check(data, where, order_id, cfg.max_bytes, content_type)
    return Invoice(f"invoice-{order_id}.pdf", data, where)


def read_folder(cfg: InvoiceSettings, order_id: str) -> Invoice:
    """Read ``<folder>/<order_id>.pdf``; see the module doc."""
    folder = Path(fill(cfg.source, order_id, cfg.marketplace, for_url=False))
    path = folder / f"{order_id}.pdf"
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InvoiceMissing(
            f"waiting: invoice for {order_id} not found at {path} (no such file)"
        ) from None
    except OSError as exc:
        raise InvoiceMissing(
            f"waiting: invoice for {order_id} cannot be read at {path} ({exc.strerror})"
        ) from None
    if size > cfg.max_bytes:
        raise too_big(order_id, str(path), size, cfg.max_bytes)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvoiceMissing(
            f"waiting: invoice for {order_id} cannot be read at {path} ({exc.strerror})"
        ) from None
    check(data, str(path), order_id, cfg.max_bytes)
    return Invoice(f"invoice-{order_id}.pdf", data, str(path))


def get_invoice(cfg: InvoiceSettings, order_id: str) -> Invoice:
    """The checked invoice for ``order_id`` from the marketplace's source."""
    if not cfg.source:
        raise InvoiceMissing(
            f"waiting: no invoice source is set for {cfg.marketplace} "
            "(Plugins page, EU VAT invoices)"
        )
    if cfg.source_kind == "folder":
        return read_folder(cfg, order_id)
    return fetch_url(cfg, order_id)
