"""Server-side length limits: a form field over its limit is refused with the field
named, nothing saved, and the text handed back."""

from __future__ import annotations

from core.models import Campaign
from tests.support.web import csrf_token


def test_a_5000_character_campaign_name_is_refused_naming_the_field(signed_in):
    campaign = Campaign.create(name="Reviews", description="short")
    page = f"/campaigns/{campaign.id}"
    token = csrf_token(signed_in, page)
    long_name = "N" * 5000
    response = signed_in.post(
        page,
        data={"csrf_token": token, "name": long_name, "description": "ok"},
        headers={"Referer": "http://localhost" + page},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Name is too long" in text and "has 5,000 characters; at most 120" in text
    assert long_name in text  # handed back, nothing typed is lost
    assert f'href="http://localhost{page}"' in text  # back to the form
    assert Campaign.get_by_id(campaign.id).name == "Reviews"


def test_a_50000_character_description_is_refused(signed_in):
    campaign = Campaign.create(name="Reviews")
    page = f"/campaigns/{campaign.id}"
    response = signed_in.post(
        page,
        data={
            "csrf_token": csrf_token(signed_in, page),
            "name": "Reviews",
            "description": "d" * 50_000,
        },
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "Description is too long" in text
    assert "at most 2,000" in text
    assert Campaign.get_by_id(campaign.id).description == ""


def test_within_limits_saves_and_an_offsite_referrer_gets_no_link(signed_in):
    campaign = Campaign.create(name="Reviews")
    page = f"/campaigns/{campaign.id}"
    token = csrf_token(signed_in, page)
    ok = signed_in.post(
        page, data={"csrf_token": token, "name": "R" * 120, "description": "d" * 2000}
    )
    assert ok.status_code == 302
    assert Campaign.get_by_id(campaign.id).name == "R" * 120
    refused = signed_in.post(
        page,
        data={"csrf_token": token, "name": "x", "reason": "r" * 501},
        headers={"Referer": "https://evil.example/"},
    )
    assert refused.status_code == 422 and "evil.example" not in refused.get_data(as_text=True)
    assert "Reason is too long" in refused.get_data(as_text=True)
