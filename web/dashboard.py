"""The dashboard: what was sent, what needs attention, and "Load demo data".

Every figure here must stay cheap with millions of messages: each query is bounded by a
date range or a LIMIT and served by an index (``message(state, due_at)``,
``message(state, id)``, ``message(account, sent_at)``, ``order(earliest_delivery)`` from
migration 0008). Figures over past days change slowly, so they are cached in the
process for ``DASHBOARD_CACHE_SECONDS`` (default 300) and the page says as of when;
today's bar and everything that needs a person are read live on every view.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, url_for
from peewee import Case, fn

from core import heartbeat
from core.clock import utcnow
from core.config import ConfigError
from core.contracts import (
    FAILED,
    IN_DOUBT,
    RETRY,
    REVIEW_OPENS_AFTER,
    SCHEDULED,
    SENDING,
    SENT,
    SKIPPED,
)
from core.demo import load_demo
from core.feedback import recent_alert
from core.inbox import RESPONSE_DUE, unanswered
from core.ledger import daily_usage
from core.models import Decision, Message, Order, OrderEvent, SellerAccount

from .attention_panel import context as attention_context
from .audit import audit
from .charts import Series, stacked_bars
from .context import engine
from .dashboard_cache import cached, clear_cache, fingerprint_now
from .security import requires

bp = Blueprint("dashboard", __name__)

DAYS = 30
# Scheduled messages are due in the future: the chart also shows the coming week, or its
# "scheduled" layer would only ever hold overdue messages.
AHEAD = 7
ATTENTION = 10  # rows per list; the Messages page has the rest
CAP = 1000  # "1000+" instead of counting every failed message ever
COVERAGE_SAMPLE = 5000  # coverage is a ratio: the newest 5,000 eligible orders measure it
SERIES = (
    ("sent", "Sent", (SENT,)),
    ("scheduled", "Scheduled", (SCHEDULED, RETRY)),
    ("skipped", "Skipped", (SKIPPED,)),
    ("failed", "Failed", (FAILED,)),
)


def _day(value) -> date:
    """``date(due_at)``: peewee may hand back a datetime, a date or text (per backend)."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _counts_by_day(start: datetime, end: datetime) -> dict[tuple[date, str], int]:
    """{(UTC day, series key): messages}, over [start, end): sent messages by the day
    they were sent, the others by the day they are (or were) due."""
    key_of = {state: key for key, _, states in SERIES for state in states if state != SENT}
    day = fn.DATE(Message.due_at)
    rows = (
        Message.select(day, Message.state, fn.COUNT(Message.id))
        .where(Message.state.in_(list(key_of)) & (Message.due_at >= start) & (Message.due_at < end))
        .group_by(day, Message.state)
        .tuples()
    )
    out: dict[tuple[date, str], int] = {}
    for when, state, count in rows:
        k = (_day(when), key_of[state])
        out[k] = out.get(k, 0) + count
    for when, count in _sent_by_day(start, end):
        k = (_day(when), "sent")
        out[k] = out.get(k, 0) + count
    return out


def _sent_by_day(start: datetime, end: datetime) -> list[tuple]:
    """(UTC day, count) of messages sent in [start, end), read per seller account so the
    ``message(account, sent_at)`` index serves each range."""
    day = fn.DATE(Message.sent_at)
    rows = []
    for (account_id,) in SellerAccount.select(SellerAccount.id).tuples():
        rows.extend(
            Message.select(day, fn.COUNT(Message.id))
            .where(
                (Message.account == account_id)
                & (Message.sent_at >= start)
                & (Message.sent_at < end)
                & (Message.state == SENT)
            )
            .group_by(day)
            .tuples()
        )
    return rows


def _chart(today: datetime, fingerprint=None) -> dict:
    """Messages per day and state over the last 30 days and the coming week: sent ones on
    the day they went out, the others on their due day.

    Past days are cached (they change slowly); today and the days ahead are read live.
    Each card counts exactly what its link to the Messages page lists: sent, skipped and
    failed over the last 30 days, scheduled or retrying over the whole chart.
    """
    first = today - timedelta(days=DAYS - 1)
    last = today + timedelta(days=AHEAD)
    past, as_of = cached(("days", today), lambda: _counts_by_day(first, today), fingerprint)
    counts = {**past, **_counts_by_day(today, last + timedelta(days=1))}
    days = [(first + timedelta(days=n)).date() for n in range(DAYS + AHEAD)]
    series = [
        Series(key, label, tuple(counts.get((d, key), 0) for d in days)) for key, label, _ in SERIES
    ]
    rows = [(d, [s.values[i] for s in series]) for i, d in enumerate(days)]
    cards = []
    for s, (key, _, states) in zip(series, SERIES, strict=True):
        until = last if key == "scheduled" else today
        shown = s.values[: (until - first).days + 1]
        cards.append(
            {
                "key": key,
                "total": sum(shown),
                "label": f"{s.label.lower()}, "
                + ("due by " + until.strftime("%b %d") if key == "scheduled" else f"{DAYS} days"),
                "args": {
                    "state": ",".join(states),
                    "from": first.strftime("%Y-%m-%d"),
                    "to": until.strftime("%Y-%m-%d"),
                    # The Messages page then filters sent ones by their send day too.
                    **({"by": "sent"} if key == "sent" else {}),
                },
            }
        )
    return {
        "svg": stacked_bars(
            f"Messages per day, last {DAYS} days and next {AHEAD} "
            "(sent by send day, others by due day, UTC)",
            days,
            series,
            "daily",
            today=today.date(),
        ),
        "series": series,
        "rows": rows,
        "cards": cards,
        "as_of": as_of,
    }


def _eligible(now: datetime):
    """Ids of the newest ``COVERAGE_SAMPLE`` orders eligible for a review request."""
    opened_from = now - timedelta(days=DAYS) - REVIEW_OPENS_AFTER
    opened_to = now - REVIEW_OPENS_AFTER
    # The newest COVERAGE_SAMPLE eligible orders, walked down the earliest_delivery index:
    # the cost stays the same at 10,000 or 10,000,000 orders.
    recent = Order.alias()
    unwanted = OrderEvent.select(OrderEvent.id).where(
        (OrderEvent.order == recent.id) & OrderEvent.kind.in_(["cancelled", "returned", "refunded"])
    )
    return (
        recent.select(recent.id)
        .where(
            (recent.earliest_delivery >= opened_from)
            & (recent.earliest_delivery < opened_to)
            & recent.status.not_in(["Canceled", "Cancelled"])
            & ~fn.EXISTS(unwanted)
        )
        .order_by(recent.earliest_delivery.desc())
        .limit(COVERAGE_SAMPLE)
    )


# A review request "on the way" or made: an order with none of these is "without one".
COVERED_OR_PENDING = (SENT, SCHEDULED, RETRY, SENDING, IN_DOUBT)
MISSING_SHOWN = 200


def missing_orders(now: datetime, limit: int = MISSING_SHOWN) -> list:
    """The coverage panel's "without one": eligible orders with no review request sent,
    planned or on its way, newest delivery first."""
    has_one = Message.select(Message.id).where(
        (Message.order == Order.id)
        & (Message.review_request == True)  # noqa: E712 - peewee expression
        & Message.state.in_(COVERED_OR_PENDING)
    )
    return list(
        Order.select(Order, SellerAccount)
        .join(SellerAccount)
        .where(Order.id.in_(_eligible(now)) & ~fn.EXISTS(has_one))
        .order_by(Order.earliest_delivery.desc(), Order.id.desc())
        .limit(limit)
    )


def _coverage(now: datetime) -> dict:
    """Review-request coverage over the last 30 days.

    Eligible: orders whose Request-a-Review window opened in the last 30 days (earliest
    delivery + 5 days, Amazon's rule) and that were not cancelled, returned or refunded.
    Covered: a review request was sent (Request a Review or a free-text request; dry runs
    included and counted apart). Pending: one is scheduled, retrying or being sent.
    Measured on the most recent ``COVERAGE_SAMPLE`` eligible orders when there are more.
    """
    sample = _eligible(now)

    def has(states, dry=None):
        cond = (
            (Message.order == Order.id)
            & (Message.review_request == True)  # noqa: E712 - peewee expression
            & Message.state.in_(states)
        )
        if dry is not None:
            cond &= Message.dry_run == dry
        return Case(None, [(fn.EXISTS(Message.select(Message.id).where(cond)), 1)], 0)

    row = (
        Order.select(
            fn.COUNT(Order.id),
            fn.SUM(has([SENT])),
            fn.SUM(has([SENT], dry=True)),
            fn.SUM(has([SCHEDULED, RETRY, SENDING, IN_DOUBT])),
            fn.SUM(has(COVERED_OR_PENDING)),
        )
        .where(Order.id.in_(sample))
        .tuples()
        .first()
    )
    eligible, covered, dry, pending, either = (int(v or 0) for v in row)
    return {
        "eligible": eligible,
        "covered": covered,
        "dry": dry,
        "pending": pending,
        # Exactly the orders ``missing_orders`` lists (an order with a sent and a
        # scheduled one is neither missing nor counted twice).
        "missing": eligible - either,
        "percent": round(100 * covered / eligible) if eligible else None,
        "sampled": eligible >= COVERAGE_SAMPLE,
    }


def _attention() -> dict:
    """Capped counts of in-doubt and failed messages (the lists are ``core.attention``'s)."""
    out = {}
    for state in (IN_DOUBT, FAILED):
        capped = Message.select(Message.id).where(Message.state == state).limit(CAP + 1)
        out[f"{state}_count"] = capped.count()
    return out


def _gauges(accounts) -> list[dict]:
    """Today's sends against Amazon's daily limit (5 x avg daily orders over 7 days + 600)."""
    gauges = []
    day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    for account in accounts:
        used, limit = daily_usage(account.id)
        dry = (
            Message.select()
            .where(
                (Message.account == account.id)
                & (Message.sent_at >= day)
                & (Message.dry_run == True)  # noqa: E712 - peewee expression
                & (Message.state == SENT)
            )
            .count()
        )
        gauges.append(
            {
                "account": account,
                "used": used,
                "dry": dry,
                "limit": limit,
                "percent": min(100, round(100 * used / limit)) if limit else 0,
            }
        )
    return gauges


def _inbox(now: datetime) -> list[dict]:
    rows = []
    for m in unanswered(limit=ATTENTION):
        left = m.due_by - now
        rows.append(
            {"m": m, "overdue": left.total_seconds() < 0, "hours": abs(left.total_seconds()) / 3600}
        )
    return rows


@bp.route("/")
def index():
    """Daily chart, coverage, daily-limit gauges, sync status and what needs a person."""
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    accounts = list(SellerAccount.select().order_by(SellerAccount.name))
    fingerprint = fingerprint_now()
    coverage, coverage_as_of = cached(("coverage", today), lambda: _coverage(now), fingerprint)
    return render_template(
        "dashboard/index.html",
        chart=_chart(today, fingerprint),
        coverage=coverage,
        coverage_as_of=coverage_as_of,
        attention=_attention(),
        gauges=_gauges(accounts),
        inbox=_inbox(now),
        feedback=recent_alert(),
        response_hours=int(RESPONSE_DUE.total_seconds() // 3600),
        accounts=accounts,
        has_demo=any(a.is_demo for a in accounts),
        cap=CAP,
        worker=_worker_status(),
        **attention_context(),
    )


def _worker_status() -> dict:
    """The worker's heartbeat for the status line (core/heartbeat.py)."""
    seen = heartbeat.last_worker()
    if seen is None:
        return {"ok": False, "text": "The worker has not run yet: start it (followup worker)."}
    age = heartbeat.describe_age(seen.age())
    if seen.age() > heartbeat.WORKER_STALE:
        return {
            "ok": False,
            "text": f"The worker was last seen {age} ago ({seen.detail}): nothing is being "
            "sent. Start it again (followup worker, or systemctl restart followup-worker).",
        }
    return {"ok": True, "text": f"Worker running: last seen {age} ago ({seen.detail})."}


@bp.route("/demo", methods=["POST"])
@requires("editor")
def demo():
    """Load (or refresh) the demo seller, its orders and the demo campaign."""
    try:
        counts = load_demo(engine())
    except ConfigError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.index"))
    clear_cache()
    audit("demo_loaded", detail=str(counts))
    flash(
        f"Demo data loaded: {counts['orders']} orders, {counts['planned']} messages planned "
        f"(dry run: nothing is sent to Amazon).",
        "success",
    )
    return redirect(url_for("dashboard.index"))


@bp.route("/coverage/missing")
def coverage_missing():
    """The coverage panel's "without one": exactly those orders, each with its trace's
    one-line summary saying why."""
    from core.trace import summary

    from .dates import seller_tz

    now = utcnow()
    orders = missing_orders(now)
    ids = [o.id for o in orders]
    messages: dict[int, list] = {i: [] for i in ids}
    for m in Message.select().where(Message.order.in_(ids)):
        messages[m.order_id].append(m)
    decisions: dict[int, list] = {i: [] for i in ids}
    for d in Decision.select().where(Decision.order.in_(ids)):
        decisions[d.order_id].append(d)
    events: dict[int, dict] = {i: {} for i in ids}
    for order_id, kind, when in (
        OrderEvent.select(OrderEvent.order, OrderEvent.kind, OrderEvent.occurred_at)
        .where(OrderEvent.order.in_(ids))
        .tuples()
    ):
        events[order_id][kind] = when
    for o in orders:
        o.__dict__["_event_times"] = events[o.id]  # what Order.event_times() reads
    tz = seller_tz()
    rows = [(o, summary(o, messages[o.id], decisions[o.id], tz)) for o in orders]
    return render_template("dashboard/coverage_missing.html", rows=rows, shown=MISSING_SHOWN)
