"""Set-based full re-plan: every order x a step in a few INSERT ... SELECT statements.

``core.planning`` plans one (order, step) pair at a time in Python, about a millisecond a
pair: fine for the orders a sync changed, far too slow to re-plan a million orders after
a campaign edit. ``replan`` gives the same result as ``core.planning.plan_all`` (same
messages, same decisions and reasons) for the pairs it can express in SQL, and hands
every other pair to the Python planner:

* per step, every order without a message past "scheduled" for it is evaluated in one
  SELECT into a temporary staging table: the first failing rule (each built-in ``Rule`` has an
  ``sql`` form), then the first hard veto (``core.default_vetoes.send_vetoes_sql``), then
  the trigger's anchor and the due time; ``CASE`` expressions write the same reason
  strings the Python path writes;
* the step's send window is applied once per distinct (marketplace, minute) of the due
  times with ``core.planning.fit_send_window`` itself, not once per order;
* messages and decisions are then inserted from the staging table (decisions upserted);
  a pair's scheduled message moves or is cancelled as the Python planner would do it.

Python keeps: steps using a rule without an SQL form (a plugin's rule, or params the SQL
form declines), triggers that are not the built-in ones, orders of a marketplace where a
plugin answers ``delivery_window``, ``review_request_window`` (for steps that use the
review window), ``adjust_send_time`` or ``send_vetoes`` for the step (an implementation
marked ``@for_steps`` counts only for the steps it names: review_timing moves review
requests only, eu_vat vetoes invoices only). Those go through
``core.planning.plan_order`` in batches, only for them.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from datetime import datetime
from types import SimpleNamespace

from peewee import (
    JOIN,
    OP,
    BooleanField,
    Case,
    Cast,
    CharField,
    DatabaseError,
    DateTimeField,
    Expression,
    IntegerField,
    InterfaceError,
    Model,
    NodeList,
    Select,
    TextField,
    Value,
    fn,
)
from peewee import (
    SQL as RawSQL,
)

from .clock import utcnow
from .contracts import CANCELLED, DELIVERED, EVENT_KINDS, SCHEDULED, SENDING_STATUSES
from .db import database, is_sqlite
from .decide import cutoff_reason
from .default_vetoes import send_vetoes_sql
from .default_windows import REVIEW_OPENS_AFTER
from .hookspecs import STEP_SCOPE_ATTR
from .live import is_live
from .models import Decision, Message, OptOut, Order, OrderEvent, Step
from .planning import (
    PlanResult,
    _preload,
    active_steps,
    effective_sender,
    fit_send_window,
    is_dry_run,
    is_review_request,
    pick_ab_arm,
    plan_order,
    release_dry_runs,
    send_days,
)

log = logging.getLogger(__name__)

UNWANTED_KINDS = ("cancelled", "refunded", "returned")
# Hooks whose answers the SQL form reproduces only when core's defaults give them.
DEFAULT_ONLY = {
    "delivery_window": {"default_windows"},
    "review_request_window": {"default_windows"},
    "adjust_send_time": set(),
    "send_vetoes": {"default_vetoes"},
}
PYTHON_BATCH = 1000


class SqlContext:
    """What an ``sql`` form of a rule or veto builds on: the order being planned
    (``o``) and the few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self) -> None:
        self.pg = not is_sqlite()
        self.o = Order.alias("o")
        self.f = _Facts.alias("f")  # per-order facts, computed once per re-plan

    def event(self, kind: str):
        """When the order's ``kind`` event happened (NULL: not yet)."""
        return getattr(self.f, kind)

    def optout_kind(self):
        """The buyer's first opt-out row kind by name ("blocklist" before "opt_out")."""
        return self.f.optout_first

    def listed(self, kind: str):
        """The buyer is on the opt-out list (``opt_out``) or the blocklist."""
        column = self.f.blocklisted if kind == "blocklist" else self.f.opted_out
        return column == True  # noqa: E712 - peewee expression

    @staticmethod
    def concat(*parts):
        """``a || b || ...``; plain strings become parameters."""
        return NodeList([Value(p) if isinstance(p, str) else p for p in parts], " || ", parens=True)

    @staticmethod
    def text(expr):
        return Cast(expr, "TEXT")

    def date(self, expr):
        """``%Y-%m-%d`` of a stored naive-UTC time (SQLite stores ISO text)."""
        if self.pg:
            return fn.to_char(expr, "YYYY-MM-DD").coerce(False)
        return fn.substr(expr, 1, 10).coerce(False)

    def minute(self, expr):
        """``%Y-%m-%d %H:%M`` of a stored naive-UTC time."""
        if self.pg:
            return fn.to_char(expr, "YYYY-MM-DD HH24:MI").coerce(False)
        return fn.substr(expr, 1, 16).coerce(False)

    def has_rounding_ties(self, column) -> bool:
        """Whether any stored amount in ``column`` is (nearly) halfway between two cents,
        like 0.125: SQL rounds those up where Python's ``:.2f`` rounds to even, so a rule
        printing amounts declines its SQL form then (cached per re-plan). Other amounts
        print the same both ways, also PostgreSQL's single-precision ``real`` ones."""
        cache = self.__dict__.setdefault("_ties", {})
        key = (column.model.__name__, column.name)
        if key not in cache:
            if self.pg:
                cents = Cast(column, "float8") * 100
                whole = fn.trunc(cents)
            else:
                cents = column * 100
                whole = Cast(cents, "INTEGER")
            odd = fn.ABS(fn.ABS(cents - whole) - 0.5) < 1e-6
            cache[key] = column.model.select(column).where(odd).exists()
        return cache[key]

    def money(self, expr):
        """``f"{x:.2f}"`` of an amount that is not a rounding tie (``has_rounding_ties``)."""
        if self.pg:
            return Cast(fn.round(Cast(Cast(expr, "float8"), "numeric"), 2), "text")
        return fn.printf("%.2f", expr)

    def add(self, expr, days: int = 0, hours: int = 0):
        """``expr + timedelta(days, hours)``, keeping microseconds like Python does."""
        if not days and not hours:
            return expr
        if self.pg:
            return NodeList((expr, RawSQL(f"+ INTERVAL '{int(days)} days {int(hours)} hours'")))
        # SQLite's datetime() drops (and may round) the fraction: shift the whole seconds
        # and put the original fraction back.
        shifted = fn.datetime(
            fn.substr(expr, 1, 19), f"{int(days):+d} days", f"{int(hours):+d} hours"
        )
        return self.concat(shifted, fn.substr(expr, 20))

    def joined(self, select):
        """``", ".join(sorted(set(values)))`` of a one-column (``v``) subquery, or NULL."""
        if self.pg:
            src = select.distinct().alias("jv")
            ordered = NodeList((src.c.v, RawSQL('COLLATE "C"')))
            return Select([src], [fn.string_agg(src.c.v, ", ").order_by(ordered)])
        src = select.distinct().order_by(RawSQL('"v"')).alias("jv")
        return Select([src], [fn.group_concat(src.c.v, ", ")])

    def has_non_ascii(self, column) -> bool:
        """Whether any stored value of ``column`` has a character outside printable ASCII:
        SQL's UPPER() then differs from Python's ``str.upper`` ("ß" -> "SS"), so a rule
        comparing upper-cased codes declines its SQL form (cached per re-plan)."""
        cache = self.__dict__.setdefault("_non_ascii", {})
        key = (column.model.__name__, column.name)
        if key not in cache:
            if self.pg:
                odd = NodeList((column, RawSQL("~ '[^ -~]'")))
            else:
                odd = NodeList((column, RawSQL("GLOB '*[^ -~]*'")))
            cache[key] = column.model.select(column).where(odd).exists()
        return cache[key]

    @staticmethod
    def present(select):
        """``(scalar subquery) IS NOT NULL``."""
        return Expression(select, OP.IS_NOT, None)

    def unwanted(self):
        """(condition, reason) of ``Order.unwanted_event``: the earliest cancellation,
        return or refund, as "excluded: refunded on 2026-11-03"."""
        return self.f.unwanted.is_null(False), self.concat("excluded: ", self.f.unwanted)

    def _unwanted_text(self):
        """ "refunded on 2026-11-03" for the facts table: earliest first, ties by name."""
        event = OrderEvent.alias()
        return (
            event.select(self.concat(event.kind, " on ", self.date(event.occurred_at)))
            .where((event.order == self.o.id) & event.kind.in_(UNWANTED_KINDS))
            .order_by(event.occurred_at, event.kind)
            .limit(1)
        )

    def facts_query(self, where, ids=None):
        """SELECT the ``_Facts`` row of every order matching ``where`` (and whose id is in
        the subquery ``ids``: then only their events are read)."""
        o, event = self.o, OrderEvent.alias("e")
        events = event.select(
            event.order.alias("oid"),
            *[
                fn.MAX(Case(None, [(event.kind == kind, event.occurred_at)], None)).alias(kind)
                for kind in EVENT_KINDS
            ],
        )
        if ids is not None:
            events = events.where(event.order.in_(ids))
            where &= o.id.in_(ids)
        pivot = events.group_by(event.order).alias("p")
        times = [getattr(pivot.c, kind) for kind in EVENT_KINDS]
        any_unwanted = fn.COALESCE(*[getattr(pivot.c, kind) for kind in UNWANTED_KINDS])
        unwanted = Case(None, [(any_unwanted.is_null(False), self._unwanted_text())], None)
        known = o.buyer_key != ""
        rows = OptOut.alias()
        first_kind = (
            rows.select(rows.kind).where(rows.buyer_key == o.buyer_key).order_by(rows.kind).limit(1)
        )

        def exists(kind):
            return known & fn.EXISTS(
                rows.select(rows.id).where((rows.buyer_key == o.buyer_key) & (rows.kind == kind))
            )

        return (
            o.select(
                o.id,
                *times,
                unwanted,
                Case(None, [(known, first_kind)], None),
                exists("blocklist"),
                exists("opt_out"),
            )
            .join(pivot, JOIN.LEFT_OUTER, on=(pivot.c.oid == o.id))
            .where(where)
        )


class _Stage(Model):
    """One row per (order, step) evaluated in SQL: why excluded, or when due, or why not yet."""

    order_id = IntegerField()
    account_id = IntegerField()
    msg_id = IntegerField(null=True)  # the pair's scheduled message, if it has one
    mkt = CharField(max_length=8)
    fail = TextField(null=True)
    fail_by = TextField(null=True)
    due = DateTimeField(null=True)
    note = TextField(null=True)  # planned: the explanation; waiting: the reason
    note_by = TextField(null=True)

    class Meta:
        database = database
        table_name = "plan_bulk_stage"
        primary_key = False


class _Facts(Model):
    """What every step asks of an order, read once per re-plan instead of once per step."""

    order_id = IntegerField(primary_key=True)
    ordered = DateTimeField(null=True)
    shipped = DateTimeField(null=True)
    delivered = DateTimeField(null=True)
    cancelled = DateTimeField(null=True)
    returned = DateTimeField(null=True)
    refunded = DateTimeField(null=True)
    unwanted = TextField(null=True)  # "refunded on 2026-11-03": the earliest of them
    optout_first = TextField(null=True)
    blocklisted = BooleanField(default=False)
    opted_out = BooleanField(default=False)

    class Meta:
        database = database
        table_name = "plan_bulk_facts"


class _Live(Model):
    """The ids of the orders this re-plan looks at (``core.live``), found once."""

    order_id = IntegerField(primary_key=True)

    class Meta:
        database = database
        table_name = "plan_bulk_live"


class _Fit(Model):
    """Send-window moves per (marketplace, due minute) that are not "keep as is"."""

    mkt = CharField(max_length=8)
    key = CharField(max_length=16)
    fixed = DateTimeField()

    class Meta:
        database = database
        table_name = "plan_bulk_fit"
        primary_key = False
        indexes = ((("mkt", "key"), True),)


DECISION_COLUMNS = (
    Decision.order,
    Decision.step,
    Decision.outcome,
    Decision.reason,
    Decision.decided_by,
    Decision.decided_at,
)


def store_decisions(rows) -> None:
    """Make each row of ``rows`` (a SELECT of order, step, outcome, reason, decided_by,
    decided_at, in that order) its pair's decision: the latest word per (order, step).

    SQLite needs a WHERE in ``rows`` before ON CONFLICT in an INSERT ... SELECT."""
    Decision.insert_from(rows, list(DECISION_COLUMNS)).on_conflict(
        conflict_target=[Decision.order, Decision.step],
        update={f: RawSQL(f'EXCLUDED."{f.column_name}"') for f in DECISION_COLUMNS[2:]},
    ).execute()


def _temp_tables() -> None:
    for model in (_Facts, _Live, _Stage, _Fit):
        model.create_table(safe=True, temporary=True)


def stored_markets() -> list[str]:
    """Marketplaces of the stored orders."""
    return [m for (m,) in Order.select(Order.marketplace).distinct().tuples()]


def _answering(engine, hook: str, code: str, step: Step) -> set[str]:
    """Plugins whose ``hook`` answers for ``code``'s orders and ``step`` (an
    implementation marked ``@for_steps`` that excludes the step does not count)."""
    names = set()
    for impl in engine.hook(hook, code).get_hookimpls():
        applies = getattr(impl.function, STEP_SCOPE_ATTR, None)
        if applies is not None and not applies(engine, step):
            continue
        names.add(impl.plugin_name)
    return names


def _uses_review_window(engine, step: Step) -> bool:
    """The review-request window matters to a step only as its delay's anchor or, for a
    review request, through the window veto (``core.default_vetoes.review_window``)."""
    return step.anchor == "review_window" or is_review_request(engine, step)


def sql_markets(engine, step: Step, codes: list[str]) -> list[str]:
    """Of ``codes``, the marketplaces whose windows and vetoes for ``step`` are core's
    defaults only."""
    hooks = dict(DEFAULT_ONLY)
    if not _uses_review_window(engine, step):
        del hooks["review_request_window"]
    # A sender whose plugin is off for a marketplace is vetoed there
    # (core.default_vetoes.sender_switched_off): the Python planner writes that reason.
    channel = engine.sender_plugin(effective_sender(engine, step))
    return [
        code
        for code in codes
        if all(_answering(engine, hook, code, step) == names for hook, names in hooks.items())
        and (channel is None or engine.plugin_enabled(channel, code))
    ]


def _window_is_open(step: Step) -> bool:
    """True when ``fit_send_window`` keeps every time as it is (0-24h, every day)."""
    days = send_days(step)
    return (
        step.window_start_hour <= 0
        and step.window_end_hour >= 24
        and days >= set(range(7))
        and not step.skip_holidays
    )


class _StepSql:
    """The SQL pieces of one step, or ``None`` from ``build`` when it needs Python."""

    def __init__(self, engine, q: SqlContext, step: Step) -> None:
        self.engine, self.q, self.step = engine, q, step
        self.checks: list[tuple] = []  # (condition, reason, decided_by)

    @classmethod
    def build(cls, engine, q: SqlContext, step: Step):
        self = cls(engine, q, step)
        trigger = engine.triggers.get(step.trigger)
        builtin = getattr(getattr(trigger, "anchor", None), "__module__", "")
        if builtin != "core.default_triggers" or step.trigger not in EVENT_KINDS:
            return None
        self.trigger = trigger
        cutoff = step.campaign.orders_from
        if cutoff is not None:  # core.decide._before_cutoff, first as there
            self.checks.append((q.o.purchased_at < cutoff, cutoff_reason(cutoff), "activation"))
        for row in step.rules or []:
            rule = engine.rules.get(row.get("rule"))
            if rule is None or rule.sql is None:
                return None
            pairs = rule.sql(q, row.get("params") or {})
            if pairs is None:
                return None
            self.checks += [(cond, reason, rule.name) for cond, reason in pairs]
        self.sender = effective_sender(engine, step)
        self.review_request = is_review_request(engine, step)
        vetoes = send_vetoes_sql(
            q,
            review_request=self.review_request,
            dry_run=self.sender == "dry_run",
            critical=bool(step.critical),
        )
        self.checks += [(cond, reason, "veto") for cond, reason in vetoes]
        return self

    def _first(self, column: int):
        if not self.checks:
            return RawSQL("NULL")
        return Case(None, [(c[0], c[column]) for c in self.checks], None)

    def stage_query(self, where):
        """SELECT order, account, message, marketplace, fail, fail_by, due, note, note_by."""
        q, step, o = self.q, self.step, self.q.o
        mine = Message.alias("m")
        query = (
            o.select()
            .join(q.f, on=(q.f.order_id == o.id))
            .join(mine, JOIN.LEFT_OUTER, on=(mine.order == o.id) & (mine.step == step.id))
        )
        anchor = q.event(step.trigger)
        if step.trigger == DELIVERED:
            # core.default_triggers._delivered: the delivery event, else the delivery
            # window's latest date once shipped (never the ship date itself).
            latest = fn.COALESCE(o.latest_delivery, o.earliest_delivery)
            shipped = q.event("shipped").is_null(False)
            anchor = fn.COALESCE(anchor, Case(None, [(shipped, latest)]))
        why = q.concat(f"{step.trigger} ", q.minute(anchor))
        no_anchor = anchor.is_null()
        waiting = [(no_anchor, self.trigger.waiting_reason, "trigger")]
        by = "core"
        start = anchor
        if step.anchor == "review_window":
            # core.default_windows.review_request_window: opens 5 days after the earliest
            # delivery date (docs/amazon-rules.md §2.1).
            earliest = fn.COALESCE(o.earliest_delivery, o.latest_delivery)
            opens = q.add(earliest, days=REVIEW_OPENS_AFTER.days)
            source = q.concat(
                "5 days after earliest to 30 days after latest delivery (",
                Case(
                    None,
                    [(o.delivery_confirmed == True, "confirmed delivery")],  # noqa: E712
                    "promised delivery window",
                ),
                ")",
            )
            waiting.append(
                (
                    earliest.is_null(),
                    "waiting: delivery date unknown, review window not known",
                    "core",
                )
            )
            start = Case(None, [(anchor >= opens, anchor)], opens)
            why = q.concat("review window opens ", q.date(opens), " (", source, ")")
            by = source
        not_yet = [(c, r) for c, r, _ in waiting]
        due = Case(
            None, [(c, None) for c, _ in not_yet], q.add(start, step.delay_days, step.delay_hours)
        )
        note = Case(None, not_yet, why)
        note_by = Case(None, [(c, b) for c, _, b in waiting], by)
        # A message past "scheduled" is never touched again by planning.
        where &= mine.id.is_null() | (mine.state == SCHEDULED)
        return query.select(
            o.id,
            o.account,
            mine.id,
            o.marketplace,
            self._first(1),
            self._first(2),
            due,
            note,
            note_by,
        ).where(where)

    def run(self, where, result: PlanResult) -> None:
        """Stage, fit the send window, insert messages and decisions for ``where``."""
        q, step, stage = self.q, self.step, _Stage
        _Stage.delete().execute()
        fields = [_Stage.order_id, _Stage.account_id, _Stage.msg_id, _Stage.mkt]
        fields += [_Stage.fail, _Stage.fail_by]
        fields += [_Stage.due, _Stage.note, _Stage.note_by]
        _Stage.insert_from(self.stage_query(where), fields).execute()
        passing = stage.fail.is_null() & stage.due.is_null(False)
        if not _window_is_open(step):
            self._fit_windows(passing)
        now = utcnow()
        sender = self.sender
        dry_run = is_dry_run(self.engine, sender)
        values = {
            Message.order: stage.order_id,
            Message.step: step.id,
            Message.campaign: step.campaign_id,
            Message.account: stage.account_id,
            Message.sender: sender,
            Message.state: SCHEDULED,
            Message.due_at: stage.due,
            Message.priority: step.priority,
            Message.review_request: self.review_request,
            Message.dry_run: dry_run,
            Message.created_at: now,
            Message.updated_at: now,
        }
        columns = _with_defaults(Message, values)
        new = passing & stage.msg_id.is_null()
        Message.insert_from(
            stage.select(*columns.values()).where(new), list(columns)
        ).on_conflict_ignore().execute()
        result.updated += self._update_scheduled(passing, sender, dry_run, now)
        if step.variants or step.holdout_percent:
            self._variants()
        delay = ""
        if step.delay_days or step.delay_hours:
            delay = f" + {step.delay_days}d {step.delay_hours}h"
        failed = stage.fail.is_null(False)
        outcome = Case(None, [(failed, "excluded"), (stage.due.is_null(), "waiting")], "planned")
        planned_reason = q.concat("planned for ", q.minute(stage.due), " UTC: ", stage.note, delay)
        reason = Case(
            None, [(failed, stage.fail), (stage.due.is_null(), stage.note)], planned_reason
        )
        by = Case(None, [(failed, stage.fail_by)], stage.note_by)
        rows = stage.select(stage.order_id, Value(step.id), outcome, reason, by, Value(now)).where(
            stage.order_id.is_null(False)
        )
        store_decisions(rows)
        counts = stage.select(
            fn.COUNT(stage.order_id),
            fn.SUM(Case(None, [(failed, 1)], 0)),
            fn.SUM(Case(None, [(stage.fail.is_null() & stage.due.is_null(), 1)], 0)),
            fn.SUM(Case(None, [(new, 1)], 0)),
        ).tuples()
        total, excluded, waiting, planned = (int(v or 0) for v in counts[0])
        result.excluded += excluded
        result.waiting += waiting
        result.planned += planned
        log.debug(
            "bulk step %s: %s pairs, %s excluded, %s waiting", step.id, total, excluded, waiting
        )

    def _update_scheduled(self, passing, sender: str, dry_run: bool, now) -> int:
        """Scheduled messages follow the step: excluded ones are cancelled with the reason,
        planned ones move when due time, priority or sender changed (as ``_plan_pair``)."""
        step, stage = self.step, _Stage
        cancel = stage.select(stage.msg_id).where(
            stage.fail.is_null(False) & stage.msg_id.is_null(False)
        )
        reason = stage.select(stage.fail).where(stage.msg_id == Message.id)
        Message.update(state=CANCELLED, reason=reason, updated_at=now).where(
            Message.id.in_(cancel) & (Message.state == SCHEDULED)
        ).execute()
        changed = (
            stage.select(stage.msg_id)
            .join(Message, on=(Message.id == stage.msg_id))
            .where(
                passing
                & (
                    (Message.due_at != stage.due)
                    | (Message.priority != step.priority)
                    | (Message.sender != sender)
                    | (Message.dry_run != dry_run)
                    | (Message.review_request != self.review_request)
                )
            )
        )
        ids = [i for (i,) in changed.tuples()]
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            Message.update(
                due_at=stage.select(stage.due).where(stage.msg_id == Message.id),
                priority=step.priority,
                sender=sender,
                dry_run=dry_run,
                review_request=self.review_request,
                updated_at=now,
            ).where(Message.id.in_(part) & (Message.state == SCHEDULED)).execute()
        return len(ids)

    def _fit_windows(self, passing) -> None:
        """Apply ``fit_send_window`` once per (marketplace, due minute), then in SQL."""
        q, step, stage = self.q, self.step, _Stage
        key = q.minute(stage.due)
        moves = []
        for mkt, minute in stage.select(stage.mkt, key).where(passing).distinct().tuples():
            at = datetime.strptime(minute, "%Y-%m-%d %H:%M")
            market = self.engine.marketplace(mkt)
            fixed = fit_send_window(
                at, step, market.timezone if market else "UTC", market.country if market else ""
            )
            # Within one minute every time is inside the window or none is; outside it the
            # result depends only on the local day and hour, so one answer fits the minute.
            if fixed != at:
                moves.append({"mkt": mkt, "key": minute, "fixed": fixed})
        _Fit.delete().execute()
        for start in range(0, len(moves), 500):
            _Fit.insert_many(moves[start : start + 500]).execute()
        if moves:
            match = (_Fit.mkt == stage.mkt) & (_Fit.key == key)
            stage.update(due=_Fit.select(_Fit.fixed).where(match)).where(
                passing & fn.EXISTS(_Fit.select(_Fit.key).where(match))
            ).execute()

    def _variants(self) -> None:
        """A/B labels: the same sha256 roll as ``pick_ab_arm``, one UPDATE per label."""
        stage = _Stage
        rows = (
            Message.select(Message.id, Order.order_id)
            .join(Order, on=(Message.order == Order.id))
            .where(
                (Message.step == self.step.id)
                & Message.order.in_(
                    stage.select(stage.order_id).where(
                        stage.fail.is_null() & stage.msg_id.is_null()
                    )
                )
                & (Message.variant == "")
            )
            .tuples()
        )
        by_label = defaultdict(list)
        for message_id, order_id in rows:
            label = pick_ab_arm(SimpleNamespace(order_id=order_id), self.step)
            if label:
                by_label[label].append(message_id)
        for label, ids in by_label.items():
            for start in range(0, len(ids), 500):
                Message.update(variant=label).where(
                    Message.id.in_(ids[start : start + 500])
                ).execute()


def _with_defaults(model, values: dict) -> dict:
    """``values`` plus every other non-null column's default, as an INSERT ... SELECT
    needs (peewee applies defaults in Python, the tables have none)."""
    out = {}
    for field in model._meta.sorted_fields:
        if field in values:
            value = values[field]
        elif field.primary_key:
            continue
        elif field.default is not None:
            default = field.default() if callable(field.default) else field.default
            value = Value(field.db_value(default))
        elif field.null:
            continue
        else:
            raise ValueError(f"{model.__name__}.{field.name} has no default for a bulk insert")
        if not hasattr(value, "__sql__"):
            value = Value(field.db_value(value))
        out[field] = value
    return out


@contextlib.contextmanager
def _checks_relaxed():
    """SQLite: no per-row foreign-key lookups for the bulk INSERTs of one step.

    Every id they write was read in the same transaction from the parent tables (order,
    step, campaign, seller account), so the checks cannot fail; skipping them saves about
    a quarter of the message INSERT. ``PRAGMA foreign_keys`` is a no-op inside a
    transaction, so a caller's open transaction simply keeps the checks on.
    """
    db = database.obj
    if not is_sqlite() or db.in_transaction():
        yield
        return
    (was,) = db.execute_sql("PRAGMA foreign_keys").fetchone()
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        db.execute_sql(f"PRAGMA foreign_keys = {int(was)}")


def _has_demo_orders() -> bool:
    return Order.select().where(Order.is_demo == True).exists()  # noqa: E712


def _python(engine, step: Step, where, result: PlanResult) -> int:
    """The per-order planner for the orders matching ``where`` (None: every order), in
    id-ordered batches."""
    last, count = 0, 0
    while True:
        cond = Order.id > last if where is None else where & (Order.id > last)
        batch = list(Order.select().where(cond).order_by(Order.id).limit(PYTHON_BATCH))
        if not batch:
            return count
        messages = _preload(batch)
        for order in batch:
            plan_order(engine, order, [step], result, messages[order.id])
        count += len(batch)
        last = batch[-1].id


def replan(engine, steps: list[Step] | None = None) -> PlanResult:
    """Re-plan every live order (``core.live``) against ``steps`` (default: every active
    step), set-based.

    Same outcome as ``core.planning.plan_all``; idempotent (a second run adds nothing).
    """
    steps = (
        active_steps()
        if steps is None
        else [s for s in steps if s.campaign.status in SENDING_STATUSES]
    )
    result = PlanResult()
    if not steps:
        return result
    q = SqlContext()
    codes = stored_markets()
    markets = {step.id: sql_markets(engine, step, codes) for step in steps}
    _temp_tables()
    now = utcnow()
    with database.atomic():
        _Facts.delete().execute()
        _Live.delete().execute()
        # Only live orders (core.live): history can only be excluded again. They are
        # found once through the date indexes; the facts (and so every step's stage
        # query, which joins them) cover exactly these orders.
        scope = q.o.marketplace.in_(sorted(set().union(*markets.values())))
        live = q.o.select(q.o.id).where(scope & is_live(q.o, now, steps))
        _Live.insert_from(live, [_Live.order_id]).execute()
        ids = _Live.select(_Live.order_id)
        facts = q.facts_query(scope, ids)
        _Facts.insert_from(facts, list(_Facts._meta.sorted_fields)).execute()
    for step in steps:
        account = step.campaign.account_id
        release_dry_runs(engine, step)  # test sends do not use up a live step
        try:
            plan = _StepSql.build(engine, q, step)
        except (DatabaseError, InterfaceError):
            raise
        except Exception:  # noqa: BLE001 - a broken step: Python records why, per pair
            log.warning("step %s: its rules cannot be written as SQL", step.id, exc_info=True)
            plan = None
        if plan is None:
            log.info("step %s: rules or trigger without an SQL form, planned in Python", step.id)
            live = is_live(Order, now, steps)
            _python(engine, step, (Order.account == account) & live if account else live, result)
            continue
        # Driven from the live ids (a rowid lookup each), not from a scan of every order.
        where = q.o.id.in_(_Live.select(_Live.order_id))
        where &= q.o.marketplace.in_(markets[step.id])
        if account:
            where &= q.o.account == account
        elif not is_dry_run(engine, plan.sender) and _has_demo_orders():
            # Demo orders go through the dry-run sender (core.decide.effective_sender):
            # the per-order planner gives them theirs.
            where &= q.o.is_demo == False  # noqa: E712 - peewee expression
            demo = (Order.is_demo == True) & Order.marketplace.in_(markets[step.id])  # noqa: E712
            _python(engine, step, demo, result)
        with _checks_relaxed(), database.atomic():
            plan.run(where, result)
        rest = [c for c in codes if c not in markets[step.id]]
        if rest:  # orders of marketplaces where a plugin answers a window or veto hook
            in_rest = Order.marketplace.in_(rest) & is_live(Order, now, steps)
            _python(
                engine, step, in_rest & (Order.account == account) if account else in_rest, result
            )
    return result


__all__ = ["SqlContext", "replan", "sql_markets"]
