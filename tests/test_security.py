"""Regression tests for the security review's findings, through the real app (Flask's
test client on a temp-file SQLite database)."""

from __future__ import annotations

from core.models import Template
from tests.support.outbox import user_client
from tests.support.web import csrf_token


def _template() -> Template:
    return Template.create(name="Manual", channel="email", message_type="other")


def test_html_preview_is_post_only_with_csrf(app, signed_in):
    template = _template()
    body = "{{ ('x\\n' * 90000)|indent(200) }}"
    url = f"/templates/{template.id}/preview.html"
    # a plain link can no longer make a signed-in user render a template
    assert signed_in.get(url, query_string={"body": body}).status_code == 405
    assert signed_in.post(url, data={"body": body}).status_code == 400  # no CSRF token
    viewer = user_client(app, "viewer")
    token = csrf_token(viewer, "/templates/")
    framed = viewer.post(url, data={"body": body, "csrf_token": token, "theme": "boxed"})
    assert framed.status_code == 200
    assert "cannot be shown" in framed.get_data(as_text=True)
