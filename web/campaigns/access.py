"""The campaign and step a URL names, or a 404 page; and who may change them."""

from __future__ import annotations

from flask import abort

from core.models import Campaign, Step

from ..security import ROLE_RANK, current_user


def can_edit() -> bool:
    """Whether the signed-in user may change campaigns (editor or admin)."""
    user = current_user()
    return user is not None and ROLE_RANK.get(user.role, -1) >= ROLE_RANK["editor"]


def get_campaign(campaign_id: int) -> Campaign:
    """The campaign or a 404 page."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None:
        abort(404, description="No such campaign.")
    return campaign


def get_step(campaign_id: int, step_id: int) -> Step:
    """The step, which must belong to the campaign in the URL (404 otherwise)."""
    step = Step.get_or_none((Step.id == step_id) & (Step.campaign == campaign_id))
    if step is None:
        abort(404, description="No such step in this campaign.")
    return step
