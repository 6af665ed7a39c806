"""Messages: the outbox and the sent log, filtered by state."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from core.contracts import ALL_STATES
from core.models import Campaign, Message, Order

bp = Blueprint("messages", __name__, url_prefix="/messages")

PAGE = 50


@bp.route("/")
def index():
    """Messages, soonest due first, filtered by state and campaign."""
    query = Message.select(Message, Order).join(Order)
    state = request.args.get("state", "")
    if state in ALL_STATES:
        query = query.where(Message.state == state)
    campaign = request.args.get("campaign", "")
    if campaign.isdigit():
        query = query.where(Message.campaign == int(campaign))
    after = request.args.get("after", "")
    if after.isdigit():
        query = query.where(Message.id < int(after))
    rows = list(query.order_by(Message.id.desc()).limit(PAGE + 1))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    template = "_messages_table.html" if request.headers.get("HX-Request") else "messages.html"
    return render_template(
        template,
        messages=rows,
        cursor=rows[-1].id if more and rows else "",
        states=sorted(ALL_STATES),
        campaigns=list(Campaign.select().order_by(Campaign.name)),
        args=request.args,
    )
