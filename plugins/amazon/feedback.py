"""Seller feedback: read from Amazon's seller-feedback report, stored per order, and the
veto "no review request after negative feedback on this order".

* The report (``GET_SELLER_FEEDBACK_DATA``, one marketplace per request) goes through
  the Reports API's document flow: createReport with a data start and end time, getReport
  until it is DONE, getReportDocument, then a download of the (maybe gzip-compressed)
  tab-separated file from the presigned URL. Every call waits for its rate-limit bucket
  (``client.call``); a failed read is recorded and tried again at the next run, never in
  a loop.
* The file's column names and date format follow the marketplace's language; the
  columns are found by name and the dates read day-first except in the US and Canada
  (docs/amazon-rules.md, "Seller feedback").
* A periodic job reads every connected Amazon account every ``feedback_hours`` (plugin
  setting, 12 by default, 0 = off), from where the last read ended (a day of overlap, as
  the report counts whole days) or, the first time, ``FIRST_READ_DAYS`` back.
* 1-2 stars is negative, 3 neutral (Amazon's feedback scale). After negative feedback
  on an order, its review request is vetoed with the rating and date in the reason.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sp_api.api import Reports
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import SellingApiException

from core import (
    NEGATIVE_MAX,
    FeedbackRead,
    SellerAccount,
    SellerFeedback,
    is_review_request,
    to_naive_utc,
    utcnow,
)

from .client import AmazonError, call, error_text, make_client
from .marketplaces import BY_CODE

log = logging.getLogger(__name__)

REPORT_TYPE = "GET_SELLER_FEEDBACK_DATA"
FIRST_READ_DAYS = 90  # buyers leave seller feedback within 90 days of the order
OVERLAP = timedelta(days=1)
FEEDBACK_HOURS = 12
MAX_POLLS = 120
# Marketplaces whose feedback file writes dates month first (MM/DD/YY).
MONTH_FIRST = {"US", "CA"}

# Column roles -> the names Seller Central uses for them, lowercased, per language.
COLUMNS = {
    "date": ("date", "datum", "data", "fecha", "日付"),
    "rating": (
        "rating",
        "bewertung",
        "évaluation",
        "evaluation",
        "valutazione",
        "puntuación",
        "puntuacion",
        "評価",
    ),  # fmt: skip
    "comments": (
        "comments",
        "kommentare",
        "commentaires",
        "commenti",
        "comentarios",
        "コメント",
    ),  # fmt: skip
    "response": (
        "response",
        "your response",
        "ihre antwort",
        "votre réponse",
        "risposta",
        "la tua risposta",
        "respuesta",
        "tu respuesta",
        "返答",
    ),  # fmt: skip
    "order_id": (
        "order id",
        "bestellnummer",
        "numéro de commande",
        "n° de commande",
        "numero ordine",
        "número de pedido",
        "注文番号",
    ),  # fmt: skip
}
REQUIRED = ("date", "rating", "order_id")


class FeedbackReportError(ValueError):
    """The file is not a seller-feedback report; names the line or the columns."""


@dataclass(frozen=True)
class Feedback:
    """One feedback row: the order, 1-5 stars, the day it was left, the texts."""

    order_id: str
    rating: int
    left_at: datetime
    comments: str = ""
    response: str = ""


def _roles(header: list[str]) -> dict[str, int]:
    found = {}
    for n, name in enumerate(header):
        key = name.strip().lower()
        for role, names in COLUMNS.items():
            if role not in found and key in names:
                found[role] = n
    missing = [r for r in REQUIRED if r not in found]
    if missing:
        raise FeedbackReportError(
            f"not a seller-feedback report: no {', '.join(missing)} column among {header}"
        )
    return found


def _day(value: str, marketplace: str, line: int) -> datetime:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    parts = text.replace(".", "/").replace("-", "/").split("/")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        if len(parts[0]) == 4:  # 2026/11/30 (Japan)
            year, month, day = parts
        elif marketplace in MONTH_FIRST:
            month, day, year = parts
        else:
            day, month, year = parts
        year = int(year) + (2000 if len(year) == 2 else 0)
        try:
            return datetime(year, int(month), int(day), tzinfo=UTC)
        except ValueError:
            pass
    raise FeedbackReportError(f"line {line}: date {value!r} is not a date")


def parse_feedback(text: str, marketplace: str) -> list[Feedback]:
    """The rows of a seller-feedback file of ``marketplace`` (a code, e.g. ``DE``)."""
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    if not rows:
        return []
    roles = _roles(rows[0])
    found = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(role, row=row):
            n = roles.get(role)
            return row[n].strip() if n is not None and n < len(row) else ""

        try:
            rating = int(cell("rating"))
        except ValueError:
            raise FeedbackReportError(
                f"line {line}: rating {cell('rating')!r} is not a number"
            ) from None
        if not 1 <= rating <= 5 or not cell("order_id"):
            raise FeedbackReportError(f"line {line}: no order id or a rating outside 1-5")
        found.append(
            Feedback(
                order_id=cell("order_id"),
                rating=rating,
                left_at=_day(cell("date"), marketplace, line),
                comments=cell("comments"),
                response=cell("response"),
            )
        )
    return found


# -- the Reports API document flow ------------------------------------------------------


def fetch_report(engine, account, code: str, start: datetime, end: datetime) -> str:
    """The seller-feedback file of marketplace ``code`` for [start, end], as text."""
    poll_seconds = float(engine.plugin_setting("amazon", "report_poll_seconds", default=5.0))
    client = make_client(engine, account, Reports, code)
    created = call(
        account,
        "createReport",
        client.create_report,
        reportType=REPORT_TYPE,
        dataStartTime=_iso(start),
        dataEndTime=_iso(end),
        marketplaceIds=[BY_CODE[code].marketplace_id],
        write=True,
    )
    report_id = report_id_of(created.payload)
    for _ in range(MAX_POLLS):
        report = call(account, "getReport", client.get_report, report_id).payload
        status, document_id = report_state(report)
        if status == "DONE":
            break
        if status in ("CANCELLED", "FATAL"):
            # CANCELLED: Amazon had no data for the range (Reports API docs).
            if status == "CANCELLED":
                return ""
            raise AmazonError("server", f"Amazon could not build the feedback report ({status})")
        time.sleep(poll_seconds)
    else:
        raise AmazonError("timeout", "the feedback report was not ready in time")
    if not document_id:
        raise AmazonError("malformed", "getReport answered DONE without a reportDocumentId")
    document = call(account, "getReportDocument", client.get_report_document, document_id)
    url, gzipped = document_location(document.payload)
    response = httpx.get(url, timeout=120)
    if response.status_code != 200:
        raise AmazonError(
            "server", f"downloading the feedback report failed (HTTP {response.status_code})"
        )
    data = gzip.decompress(response.content) if gzipped else response.content
    return data.decode("utf-8-sig")


def report_id_of(payload) -> str:
    """The ``reportId`` of a createReport answer."""
    report_id = payload.get("reportId") if isinstance(payload, dict) else None
    if not report_id:
        raise AmazonError("malformed", "createReport answered without a reportId")
    return report_id


def report_state(payload) -> tuple[str, str | None]:
    """(``processingStatus``, ``reportDocumentId`` or None) of a getReport answer."""
    payload = payload if isinstance(payload, dict) else {}
    return payload.get("processingStatus") or "", payload.get("reportDocumentId")


def document_location(payload) -> tuple[str, bool]:
    """(download URL, whether it is gzip-compressed) of a getReportDocument answer."""
    payload = payload if isinstance(payload, dict) else {}
    if not payload.get("url"):
        raise AmazonError("malformed", "getReportDocument answered without a url")
    return payload["url"], (payload.get("compressionAlgorithm") or "").upper() == "GZIP"


def _iso(when: datetime) -> str:
    return when.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def store(account, code: str, rows: list[Feedback]) -> int:
    """Insert or update one feedback per order; returns how many rows were new or changed."""

    changed = 0
    for row in rows:
        values = dict(
            marketplace=code,
            rating=row.rating,
            left_at=to_naive_utc(row.left_at),
            comments=row.comments,
            response=row.response,
        )
        existing = SellerFeedback.get_or_none(
            (SellerFeedback.account == account.id) & (SellerFeedback.order_id == row.order_id)
        )
        if existing is None:
            SellerFeedback.create(account=account.id, order_id=row.order_id, **values)
            changed += 1
        elif any(getattr(existing, k) != v for k, v in values.items()):
            SellerFeedback.update(read_at=utcnow(), **values).where(
                SellerFeedback.id == existing.id
            ).execute()
            changed += 1
    return changed


def read_account(engine, account) -> int:
    """Read the account's feedback since the last read; records the outcome. Returns how
    many feedback rows were new or changed; raises nothing (the error is recorded)."""

    state, _ = FeedbackRead.get_or_create(account=account.id)
    end = utcnow()
    start = (state.read_until - OVERLAP) if state.read_until else end - timedelta(FIRST_READ_DAYS)
    changed = 0
    try:
        for code in account.marketplaces or []:
            if code not in BY_CODE:
                raise AmazonError("region", f"unknown marketplace {code!r}")
            text = fetch_report(engine, account, code, start, end)
            changed += store(account, code, parse_feedback(text, code))
    except (AmazonError, FeedbackReportError, SellingApiException, AuthorizationError,
            httpx.HTTPError) as exc:  # fmt: skip
        text = error_text(exc) if isinstance(exc, SellingApiException) else str(exc)
        log.warning("reading seller feedback of account %s failed: %s", account.name, text)
        FeedbackRead.update(last_run_at=end, last_error=f"{type(exc).__name__}: {text}").where(
            FeedbackRead.id == state.id
        ).execute()
        return changed
    FeedbackRead.update(last_run_at=end, read_until=end, last_error="").where(
        FeedbackRead.id == state.id
    ).execute()
    return changed


def run(engine) -> int:
    """The periodic job: read each connected Amazon account whose last read is older
    than ``feedback_hours``. Returns how many feedback rows were new or changed."""

    hours = float(engine.plugin_setting("amazon", "feedback_hours", default=FEEDBACK_HOURS) or 0)
    if hours <= 0:
        return 0
    due_before = utcnow() - timedelta(hours=hours)
    changed = 0
    accounts = SellerAccount.select().where(
        (SellerAccount.source == "amazon") & (SellerAccount.is_demo == False)  # noqa: E712
    )
    for account in accounts:
        last = FeedbackRead.get_or_none(FeedbackRead.account == account.id)
        if last and last.last_run_at and last.last_run_at > due_before:
            continue
        changed += read_account(engine, account)
    return changed


# -- the veto ---------------------------------------------------------------------------


def vetoes_step(engine, step) -> bool:
    """Whether the veto can answer for ``step`` (``@for_steps``): a review request, while
    some order has negative feedback. Without any, a full re-plan keeps review steps
    set-based; feedback read during a re-plan is still caught by the send-time check."""

    return (
        is_review_request(engine, step)
        and SellerFeedback.select().where(SellerFeedback.rating <= NEGATIVE_MAX).exists()
    )


def negative_feedback_veto(order) -> str | None:
    """Why no review request may go to ``order``: its buyer left negative feedback."""

    found = SellerFeedback.get_or_none(
        (SellerFeedback.account == order.account_id)
        & (SellerFeedback.order_id == order.order_id)
        & (SellerFeedback.rating <= NEGATIVE_MAX)
    )
    if found is None:
        return None
    return (
        f"excluded: the buyer left negative seller feedback on this order "
        f"({found.rating} of 5 stars on {found.left_at:%Y-%m-%d}): no review request "
        "after negative feedback"
    )
