"""The order trace as text, for ``followup trace``: the same facts as the order page
(``core.order_trace``), times in the seller's time zone like the page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .order_trace import OrderTrace

UTC = ZoneInfo("UTC")


def _at(when: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (naive UTC) time in ``tz``, as the page's ``dt`` filter writes it."""
    if when is None:
        return "—"
    return when.replace(tzinfo=UTC).astimezone(tz).strftime(fmt)


def _facts(trace: OrderTrace) -> list[str]:
    o, tz = trace.order, trace.tz
    market = o.marketplace
    if o.marketplace_name:
        market += f" ({o.marketplace_name}, {o.marketplace_timezone})"
    d = trace.delivery
    delivery = (
        f"{_at(d.earliest, tz, '%Y-%m-%d')} – {_at(d.latest, tz, '%Y-%m-%d')} "
        f"{'confirmed' if d.confirmed else 'estimated'} ({d.source})"
        if d
        else "unknown"
    )
    w = trace.review_window
    window = (
        f"{_at(w.opens, tz, '%Y-%m-%d')} – {_at(w.closes, tz, '%Y-%m-%d')} ({w.source})"
        if w
        else "not known yet"
    )
    f = trace.feedback
    feedback = (
        f"{f.rating} ★ {f.kind} on {_at(f.left_at, tz, '%Y-%m-%d')}"
        + (f": “{f.comments}”" if f.comments else "")
        + (" (no review request after negative feedback)" if f.kind == "negative" else "")
        if f
        else "none"
    )
    allowed = "stopped by the seller" if o.messages_stopped else "allowed"
    if trace.blocked:
        b = trace.blocked
        until = f", until {_at(b.expires_at, tz, '%Y-%m-%d')}" if b.expires_at else ""
        allowed += f"; buyer on the blocklist: {b.reason}{until}"
    rows = [
        ("Account", o.account),
        ("Marketplace", market),
        ("Fulfilment", o.fulfillment),
        ("Status", o.status),
        ("Placed", _at(o.purchased_at, tz)),
        ("Delivery", delivery),
        ("Review window", window),
        ("Seller feedback", feedback),
        ("Buyer language", o.buyer_locale or "unknown"),
        ("Total", f"{o.total:.2f} {o.currency}"),
        ("Messages", allowed),
    ]
    return [f"  {label + ':':<16} {value}" for label, value in rows]


def trace_text(trace: OrderTrace) -> str:
    """The whole trace of one order as lines of text."""
    o, tz = trace.order, trace.tz
    lines = [f"Order {o.order_id}{' (demo)' if o.is_demo else ''}", f"  {trace.summary}", ""]
    lines += _facts(trace)
    lines.append(f"  Times in {tz.key}.")
    lines += ["", "Items"]
    lines += [f"  {i.quantity} × {i.title}  SKU {i.sku} · ASIN {i.asin}" for i in trace.items]
    lines += ["", "Events"]
    lines += [f"  {_at(e.occurred_at, tz)}  {e.kind}  from {e.source}" for e in trace.events]
    if not trace.events:
        lines.append("  No events yet.")
    lines += ["", "Campaign steps considered"]
    for d in trace.decisions:
        by = f" (decided by {d.decided_by})" if d.decided_by else ""
        lines.append(f"  {d.step}: {d.outcome}, {_at(d.decided_at, tz)}")
        lines.append(f"    why: {d.reason}{by}")
    if not trace.decisions:
        lines.append("  No active campaign step has looked at this order yet.")
    lines += ["", "Messages"]
    for m in trace.messages:
        tags = "".join(
            f" [{tag}]"
            for tag, shown in (("dry run", m.dry_run), ("review request", m.review_request))
            if shown
        )
        sent = f", sent {_at(m.sent_at, tz)}" if m.sent_at else ""
        lines.append(
            f"  #{m.id} {m.state_label}{tags} via {m.sender}, due {_at(m.due_at, tz)}{sent}"
        )
        if m.reason:
            lines.append(f"    Reason: {m.reason}")
        if m.error:
            lines.append(f"    Error: {m.error}")
        for a in m.attempts:
            lines.append(
                f"    attempt {_at(a.started_at, tz)}: {a.outcome or 'running'} {a.detail}"
            )
    if not trace.messages:
        lines.append("  No messages planned for this order.")
    return "\n".join(line.rstrip() for line in lines)
