"""Prometheus text exposition of what an operator watches (served at ``/metrics``).

Figures come from the database at scrape time (no counters in process memory, so the
web and worker processes agree and a restart loses nothing). Labels carry names an
operator chose (channel, account), never buyer data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from peewee import fn

from .clock import utcnow
from .contracts import FAILED, IN_DOUBT, RETRY, SCHEDULED, SENDING_STATUSES, SENT, SKIPPED
from .heartbeat import last_backup, last_worker
from .ledger import daily_usage
from .models import Attempt, Campaign, Message, SellerAccount

# Attempt.outcome of a throttled send (core.dispatch.THROTTLED; not imported to keep
# this module free of the dispatcher).
THROTTLED = "throttled"
COUNTED_STATES = (SENT, SKIPPED, FAILED, IN_DOUBT, RETRY, SCHEDULED)


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: object) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str, samples: Iterable) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(**labels)} {_number(value)}")


def _number(value: float | int) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") or "0"
    return str(value)


def render(pending_tasks: int | None = None) -> str:
    """The whole exposition; ``pending_tasks`` is the huey queue's length if known."""
    now = utcnow()
    out = _Out()
    accounts = {a.id: a for a in SellerAccount.select()}
    name = {i: a.name for i, a in accounts.items()}

    rows = (
        Message.select(Message.sender, Message.account, Message.state, fn.COUNT(Message.id))
        .where(Message.state.in_(COUNTED_STATES))
        .group_by(Message.sender, Message.account, Message.state)
        .tuples()
    )
    out.metric(
        "followup_messages",
        "gauge",
        "Messages by state (sent, skipped, failed, in_doubt, retry, scheduled), channel "
        "and seller account.",
        (
            (dict(state=state, channel=sender, account=name.get(acc, acc)), count)
            for sender, acc, state, count in sorted(rows, key=lambda r: (r[2], r[0], r[1]))
        ),
    )

    oldest = (
        Message.select(fn.MIN(Message.due_at))
        .join(Campaign, on=(Message.campaign == Campaign.id))
        .where(
            Message.state.in_((SCHEDULED, RETRY))
            & (Message.due_at <= now)
            & Campaign.status.in_(SENDING_STATUSES)
        )
        .scalar()
    )
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest)
    lag = (now - oldest).total_seconds() if oldest else 0.0
    out.metric(
        "followup_queue_lag_seconds",
        "gauge",
        "How long the oldest due message has been waiting to be sent (0: none waiting).",
        [({}, max(0.0, lag))],
    )
    if pending_tasks is not None:
        out.metric(
            "followup_queue_pending_tasks",
            "gauge",
            "Tasks waiting in the queue.",
            [({}, pending_tasks)],
        )

    throttles = (
        Attempt.select(Message.sender, fn.COUNT(Attempt.id))
        .join(Message)
        .where(Attempt.outcome == THROTTLED)
        .group_by(Message.sender)
        .tuples()
    )
    out.metric(
        "followup_api_throttles_total",
        "counter",
        "Sends the channel's API refused with 429 (throttled), by channel; each channel "
        "calls one API operation.",
        ((dict(channel=sender), count) for sender, count in sorted(throttles)),
    )

    out.metric(
        "followup_sync_age_seconds",
        "gauge",
        "Seconds since each live seller account's last order sync (-1: never).",
        (
            (dict(account=a.name), (now - a.last_sync_at).total_seconds() if a.last_sync_at else -1)
            for a in sorted(accounts.values(), key=lambda a: a.name)
            if not a.is_demo
        ),
    )

    usage = [(a.name, *daily_usage(a.id)) for a in sorted(accounts.values(), key=lambda a: a.name)]
    out.metric(
        "followup_daily_limit_used",
        "gauge",
        "Live messages sent today (UTC) per seller account.",
        ((dict(account=n), used) for n, used, _ in usage),
    )
    out.metric(
        "followup_daily_limit",
        "gauge",
        "Amazon's daily message limit per seller account (docs/amazon-rules.md).",
        ((dict(account=n), limit) for n, _, limit in usage),
    )

    worker = last_worker()
    out.metric(
        "followup_worker_heartbeat_age_seconds",
        "gauge",
        "Seconds since a worker last showed it is alive (-1: never).",
        [({}, worker.age().total_seconds() if worker else -1)],
    )
    backup = last_backup()
    out.metric(
        "followup_backup_age_seconds",
        "gauge",
        "Seconds since the last followup backup (-1: never).",
        [({}, backup.age().total_seconds() if backup else -1)],
    )
    return "\n".join(out.lines) + "\n"
