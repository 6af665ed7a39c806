"""A/B testing with a holdout: counts per variant, and outcomes attached later.

Assignment is deterministic per (order, step) (``planning.pick_ab_arm``), so re-planning
never moves an order to another variant. Outcomes such as review counts per ASIN and
period are imported afterwards (Amazon gives no per-message attribution) and shown next
to the variants that messaged buyers of that ASIN in that period.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime

from peewee import CharField, DateField, FloatField, fn

from .csv_out import SafeWriter
from .db import database
from .models import BaseModel, Message, OrderItem, Step


class Outcome(BaseModel):
    """A measured result for an ASIN over a period (e.g. new reviews), imported by CSV."""

    asin = CharField(max_length=20, index=True)
    metric = CharField(max_length=40, default="reviews")
    period_start = DateField()
    period_end = DateField()
    value = FloatField(default=0)

    class Meta:
        indexes = ((("asin", "metric", "period_start", "period_end"), True),)


def variant_counts(step: Step) -> dict[str, dict[str, int]]:
    """{variant label: {state: count}}; the holdout appears as "holdout"."""
    rows = (
        Message.select(Message.variant, Message.state, fn.COUNT(Message.id))
        .where(Message.step == step)
        .group_by(Message.variant, Message.state)
        .tuples()
    )
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for variant, state, count in rows:
        out[variant or "A"][state] = count
    return dict(out)


def export_csv(step: Step) -> str:
    """One row per variant and state, for a spreadsheet."""
    buf = io.StringIO()
    writer = SafeWriter(buf)
    writer.writerow(["campaign", "step", "variant", "state", "messages"])
    for variant, states in sorted(variant_counts(step).items()):
        for state, count in sorted(states.items()):
            writer.writerow([step.campaign.name, step.name or step.trigger, variant, state, count])
    return buf.getvalue()


class OutcomeError(ValueError):
    pass


def import_outcomes(text: str) -> int:
    """Import ``asin,metric,period_start,period_end,value`` rows; returns rows stored."""
    reader = csv.DictReader(io.StringIO(text))
    needed = {"asin", "period_start", "period_end", "value"}
    if not needed <= set(reader.fieldnames or []):
        raise OutcomeError(
            f"missing column(s): {', '.join(sorted(needed - set(reader.fieldnames or [])))}"
        )
    rows = []
    for line, row in enumerate(reader, start=2):
        try:
            rows.append(
                dict(
                    asin=(row["asin"] or "").strip(),
                    metric=(row.get("metric") or "reviews").strip(),
                    period_start=date.fromisoformat((row["period_start"] or "").strip()),
                    period_end=date.fromisoformat((row["period_end"] or "").strip()),
                    value=float(row["value"]),
                )
            )
        except (TypeError, ValueError) as exc:
            raise OutcomeError(f"line {line}: {exc}") from exc
        if not rows[-1]["asin"]:
            raise OutcomeError(f"line {line}: the asin is empty")
        if rows[-1]["period_end"] < rows[-1]["period_start"]:
            raise OutcomeError(f"line {line}: period_end is before period_start")
    # All or nothing: a file with a bad line leaves the stored outcomes as they were.
    with database.atomic():
        for values in rows:
            Outcome.insert(**values).on_conflict(
                conflict_target=[
                    Outcome.asin,
                    Outcome.metric,
                    Outcome.period_start,
                    Outcome.period_end,
                ],
                update={Outcome.value: values["value"]},
            ).execute()
    return len(rows)


SHARED = "shared"  # outcomes of ASIN-periods that several variants messaged


def outcomes_by_variant(step: Step, metric: str = "reviews") -> dict[str, dict[str, float]]:
    """{variant: {"messages": n, metric: outcomes only that variant can have caused}}.

    Amazon reports reviews per ASIN and period, never per message. An outcome (one ASIN,
    one period) is credited to a variant only when that variant alone messaged buyers of
    the ASIN in the period; outcomes several variants touched go to ``SHARED`` ("messages"
    0), since nothing tells them apart. So variants compare cleanly when a seller tests
    them on different ASINs or periods, and the shared total shows how much is mixed.
    The holdout is a variant here: its orders count on the day their message would have
    gone out (their skipped message's due time).
    """
    when = fn.COALESCE(Message.sent_at, Message.due_at)
    rows = (
        Message.select(Message.variant, when, OrderItem.asin)
        .join(OrderItem, on=(OrderItem.order == Message.order))
        .where(
            (Message.step == step)
            & (Message.sent_at.is_null(False) | (Message.variant == "holdout"))
        )
        .tuples()
    )
    by_asin: dict[str, list[Outcome]] = defaultdict(list)
    for o in Outcome.select().where(Outcome.metric == metric):
        by_asin[o.asin].append(o)
    report: dict[str, dict[str, float]] = defaultdict(lambda: {"messages": 0, metric: 0.0})
    touched: dict[int, set[str]] = defaultdict(set)
    values: dict[int, float] = {}
    for variant, at, asin in rows:
        label = variant or "A"
        report[label]["messages"] += 1
        day = at.date() if isinstance(at, datetime) else date.fromisoformat(str(at)[:10])
        for o in by_asin.get(asin, ()):
            if o.period_start <= day <= o.period_end:
                touched[o.id].add(label)
                values[o.id] = o.value
    for outcome_id, labels in touched.items():
        target = next(iter(labels)) if len(labels) == 1 else SHARED
        report[target][metric] += values[outcome_id]
    return dict(report)
