"""Plain words in the web admin: app-styled error pages with navigation, buttons shown
only to roles that may use them, sync and import errors explained."""

from __future__ import annotations

import io

import pytest
from flask import abort

from core.plain_errors import plain_error, plain_exception
from tests.support.outbox import user_client
from tests.support.web import csrf_token, login, make_admin
from web import create_app


def test_unknown_page_is_a_404_in_the_apps_layout(signed_in):
    response = signed_in.get("/no/such/page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in page and 'aria-label="Main"' in page  # the navigation
    assert "Go to the dashboard" in page and "app.css" in page
    assert "The requested URL was not found on the server" not in page


def test_anonymous_404_offers_sign_in_and_no_navigation(client):
    page = client.get("/static/nope.css").get_data(as_text=True)
    assert "Page not found" in page and "Sign in" in page
    assert 'aria-label="Main"' not in page


def test_403_says_which_role_is_needed(app, signed_in):
    viewer = user_client(app, "viewer")
    token = csrf_token(viewer, "/files/")
    response = viewer.post("/files/1/delete", data={"csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "You may not do that" in page and "This action needs the editor role." in page
    assert 'aria-label="Main"' in page


@pytest.fixture
def crashing(engine):
    """An admin app with two extra routes: one raises, one answers 429."""
    app = create_app(engine=engine)

    @app.route("/boom")
    def boom():
        raise RuntimeError("database file is gone")

    @app.route("/slow-down")
    def slow_down():
        abort(429, description="Too many sign-in attempts for this user.")

    make_admin()
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def test_400_405_and_500_pages(crashing):
    bare = crashing.post("/orders/1/stop", data={"reason": "x"})
    assert bare.status_code == 400
    assert "Missing or invalid CSRF token: reload the page" in bare.get_data(as_text=True)
    wrong = crashing.get("/demo")
    assert wrong.status_code == 405 and "cannot be used this way" in wrong.get_data(as_text=True)
    assert "POST" in wrong.headers["Allow"]
    crash = crashing.get("/boom")
    page = crash.get_data(as_text=True)
    assert crash.status_code == 500 and "Something went wrong on our side" in page
    assert "database file is gone" not in page  # internals stay in the log
    assert 'aria-label="Main"' in page


def test_429_page(crashing):
    response = crashing.get("/slow-down")
    page = response.get_data(as_text=True)
    assert response.status_code == 429 and "Too many attempts" in page
    assert "Too many sign-in attempts for this user." in page


def test_viewer_sees_no_buttons_that_lead_to_403(app, engine, signed_in):
    viewer = user_client(app, "viewer")
    files = viewer.get("/files/").get_data(as_text=True)
    assert "Upload</button>" not in files and "needs the editor role" in files
    dashboard = viewer.get("/").get_data(as_text=True)
    assert "Load demo data</button>" not in dashboard
    assert "Load demo data</button>" in signed_in.get("/").get_data(as_text=True)


def test_admin_demoting_themselves_is_asked_first_and_the_last_admin_cannot(app, signed_in):
    from core.models import User

    me = User.get(User.username == "admin")
    token = csrf_token(signed_in, "/settings/users")
    alone = signed_in.post(
        f"/settings/users/{me.id}/role", data={"csrf_token": token, "role": "viewer"}
    )
    assert alone.status_code == 422 and "last active admin" in alone.get_data(as_text=True)
    make_admin("second")
    asked = signed_in.post(
        f"/settings/users/{me.id}/role", data={"csrf_token": token, "role": "viewer"}
    )
    assert "Make yourself viewer?" in asked.get_data(as_text=True)
    assert User.get_by_id(me.id).role == "admin"


@pytest.mark.parametrize(
    "raw, says",
    [
        (
            "sync failed: ('invalid_grant', 'The request has an invalid grant parameter', 400)",
            "sync failed: Amazon refused the refresh token (invalid_grant)",
        ),
        ("('invalid_client', 'Client authentication failed', 401)", "client secret"),
        ("'utf-8' codec can't decode byte 0xff in position 0", "not UTF-8 text"),
        ("ConnectError: [Errno 111] Connection refused", "could not reach Amazon"),
    ],
)
def test_raw_errors_are_explained(raw, says):
    assert says in plain_error(raw)


def test_unknown_errors_pass_through():
    assert plain_error("the report has no header row") == "the report has no header row"
    assert plain_exception(KeyError("x")) == "'x'"


def test_an_import_of_a_non_utf8_file_is_explained(app, signed_in, tmp_path):
    token = csrf_token(signed_in, "/accounts/")

    response = signed_in.post(
        "/accounts/import",
        data={
            "csrf_token": token,
            "account": "Imported",
            "source": "amazon",
            "file": (io.BytesIO(b"\xff\xfeamazon-order-id\t\x00\x00"), "orders.txt"),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "not UTF-8 text" in page and "codec" not in page
