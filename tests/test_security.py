"""Regression tests for the security review's findings, through the real app (Flask's
test client on a temp-file SQLite database)."""

from __future__ import annotations

import json
import re
import statistics
import time
from datetime import datetime, timedelta

from core import clock
from core.models import LoginSession, Template, User
from tests.support.figures import record
from tests.support.outbox import flashes, user_client
from tests.support.web import PASSWORD, csrf_token, login


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


# -- sessions live on the server ---------------------------------------------------


def _cookie(client) -> str:
    return client.get_cookie("followup_session").value


def _with_cookie(app, value: str):
    other = app.test_client()
    other.set_cookie("followup_session", value)
    return other


def test_a_copied_cookie_stops_working_after_logout(app, signed_in):
    copied = _cookie(signed_in)
    assert _with_cookie(app, copied).get("/orders/").status_code == 200
    token = csrf_token(signed_in, "/orders/")
    assert signed_in.post("/logout", data={"csrf_token": token}).status_code == 302
    assert _with_cookie(app, copied).get("/orders/").status_code == 302  # to the login


def test_password_change_ends_the_other_sessions(app, signed_in):
    other = app.test_client()
    login(other)
    new = "a-brand-new-password"
    form = {"current_password": PASSWORD, "new_password": new, "confirm_password": new}
    form["csrf_token"] = csrf_token(signed_in, "/password")
    assert signed_in.post("/password", data=form).status_code == 302
    assert signed_in.get("/orders/").status_code == 200  # this browser stays in
    assert other.get("/orders/").status_code == 302  # the other one is out


def test_role_change_and_disabling_end_the_users_sessions(app, signed_in):
    editor = user_client(app, "editor")
    assert editor.get("/orders/").status_code == 200
    user = User.get(User.username == "editor")
    token = csrf_token(signed_in, "/settings/users")
    signed_in.post(f"/settings/users/{user.id}/role", data={"role": "viewer", "csrf_token": token})
    assert editor.get("/orders/").status_code == 302  # signs in again, as a viewer
    login(editor, "editor")
    assert editor.get("/orders/").status_code == 200
    signed_in.post(f"/settings/users/{user.id}/disable", data={"csrf_token": token})
    assert editor.get("/orders/").status_code == 302


def test_the_cookie_reveals_neither_user_nor_password_hash(app, signed_in):
    # what anyone holding the cookie can read (signed, not encrypted)
    data = app.session_interface.get_signing_serializer(app).loads(_cookie(signed_in))
    admin = User.get(User.username == "admin")
    assert set(data) <= {"sid", "csrf", "_permanent", "_flashes"}
    assert admin.password_hash[-16:] not in json.dumps(data)
    assert LoginSession.select().where(LoginSession.user == admin).count() == 1
    stored = LoginSession.get(LoginSession.user == admin).token_hash
    assert data["sid"] != stored  # only its SHA-256 is in the database


# -- sign-in throttling --------------------------------------------------------------


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_failures_from_one_address_get_growing_delays_not_a_lock(app, engine):
    attempts = engine.settings.get("security", "login_attempts")
    start = datetime(2026, 12, 1, 12, 0)
    clock.freeze(start)
    guesser = _from(app, "203.0.113.9")
    for n in range(attempts):
        assert login(guesser, password=f"guess-{n}").status_code == 401
    waits = []
    for step in range(4):
        refused = login(guesser, password="guess")
        assert refused.status_code == 429
        waits.append(int(re.search(rb"try again in (\d+) seconds", refused.data).group(1)))
        clock.freeze(clock.utcnow() + timedelta(seconds=waits[-1]))
        assert login(guesser, password=f"again-{step}").status_code == 401
    assert waits == [1, 2, 4, 8]
    # the admin signs in from their own address meanwhile
    assert login(_from(app, "198.51.100.1")).status_code == 302
    # a quarter of an hour later the address starts afresh
    clock.freeze(clock.utcnow() + timedelta(minutes=16))
    assert login(guesser).status_code == 302


def test_many_addresses_against_one_user_slow_it_down_by_a_minute_at_most(app, engine):
    attempts = engine.settings.get("security", "login_attempts")
    clock.freeze(datetime(2026, 12, 1, 12, 0))
    for n in range(10 * attempts + 12):
        response = login(_from(app, f"192.0.2.{n % 250}"), password="guess")
        assert response.status_code in (401, 429)
    refused = login(_from(app, "198.51.100.1"))
    assert refused.status_code == 429
    wait = int(re.search(rb"try again in (\d+) seconds", refused.data).group(1))
    assert wait <= 60
    clock.freeze(clock.utcnow() + timedelta(seconds=wait))
    assert login(_from(app, "198.51.100.1")).status_code == 302


def test_unknown_and_known_users_get_the_same_answers_and_timing(app, engine):
    attempts = engine.settings.get("security", "login_attempts")
    answers = {}
    timings = {}
    for name in ("admin", "nobody-here"):
        client = _from(app, f"192.0.2.{len(answers) + 1}")
        seen, spent = [], []
        for _ in range(attempts + 1):
            started = time.perf_counter()
            response = login(client, name, "wrong-password")
            spent.append(time.perf_counter() - started)
            seen.append((response.status_code, flashes(response.get_data(as_text=True))))
        answers[name] = seen
        timings[name] = statistics.median(spent[:attempts])
    assert answers["admin"] == answers["nobody-here"]
    assert answers["admin"][-1][0] == 429
    ratio = timings["admin"] / timings["nobody-here"]
    record(
        "login timing",
        f"known {timings['admin'] * 1000:.0f} ms, unknown "
        f"{timings['nobody-here'] * 1000:.0f} ms, ratio {ratio:.2f}",
    )
    assert 0.5 < ratio < 2.0
