"""The web admin through Flask's test client: sign-in, safety, pages."""

from __future__ import annotations

import re

from core.models import AuditLog, Message, Order, User
from core.passwords import hash_password
from tests.support.web import csrf_token as token
from tests.support.web import login


def test_pages_need_a_login(client):
    response = client.get("/orders/")
    assert response.status_code == 302 and "/login?next=/orders/" in response.location


def test_wrong_password_slows_down_that_address_but_locks_no_one_out(app, client, engine):
    for _ in range(engine.settings.get("security", "login_attempts")):
        assert login(client, password="nope").status_code == 401
    waiting = login(client)  # from this address even the right password waits now
    assert waiting.status_code == 429 and b"Too many failed sign-ins" in waiting.data
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert login(elsewhere).status_code == 302  # the real user is not locked out


def test_csrf_less_post_is_refused(signed_in):
    response = signed_in.post("/demo")
    assert response.status_code == 400
    assert b"CSRF" in response.data
    assert Order.select().count() == 0


def test_first_login_forces_a_password_change(client):
    User.create(username="new", password_hash=hash_password("one-time-pass"))
    login(client, "new", "one-time-pass")
    assert client.get("/orders/").location.endswith("/password")
    csrf = token(client, "/password")
    bad = client.post(
        "/password",
        data={
            "current_password": "one-time-pass",
            "new_password": "short",
            "confirm_password": "short",
            "csrf_token": csrf,
        },
    )
    assert bad.status_code == 422 and b"at least 10 characters" in bad.data
    good = client.post(
        "/password",
        data={
            "current_password": "one-time-pass",
            "new_password": "a-much-better-one",
            "confirm_password": "a-much-better-one",
            "csrf_token": csrf,
        },
    )
    assert good.status_code == 302
    assert client.get("/orders/").status_code == 200
    assert AuditLog.select().where(AuditLog.action == "password_changed").exists()


def test_security_headers_and_cookie_flags(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    login(client)
    cookie = client.get_cookie("followup_session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_dashboard_offers_demo_data_then_shows_orders(signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assert "Load demo data" in page
    response = signed_in.post("/demo", data={"csrf_token": token(signed_in, "/")})
    assert response.status_code == 302
    page = signed_in.get("/").get_data(as_text=True)
    assert "Demo data loaded: 300 orders" in page
    assert "Load demo data" not in page and "Refresh demo data" in page
    orders = signed_in.get("/orders/").get_data(as_text=True)
    assert orders.count('class="tag demo"') == 50
    assert "Older orders" in orders


def test_order_search_and_keyset_pages(signed_in):
    signed_in.post("/demo", data={"csrf_token": token(signed_in, "/")})
    first = signed_in.get("/orders/?marketplace=DE").get_data(as_text=True)
    ids = re.findall(r">(\d{3}-\d{7}-\d{7})<", first)
    assert len(ids) == 50
    assert all(Order.get(Order.order_id == i).marketplace == "DE" for i in ids)
    nxt = re.search(r'href="(/orders/\?[^"]*after=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = re.findall(r">(\d{3}-\d{7}-\d{7})<", signed_in.get(nxt).get_data(as_text=True))
    assert second and not set(second) & set(ids)
    one = signed_in.get(f"/orders/?q={ids[3]}").get_data(as_text=True)
    assert re.findall(r">(\d{3}-\d{7}-\d{7})<", one) == [ids[3]]
    fragment = signed_in.get("/orders/?marketplace=JP", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and b"<table>" in fragment.data


def test_order_trace_explains_skips(signed_in):
    signed_in.post("/demo", data={"csrf_token": token(signed_in, "/")})
    from core.models import Decision

    excluded = Decision.select().where(Decision.reason.startswith("excluded: refunded")).first()
    page = signed_in.get(f"/orders/{excluded.order_id}").get_data(as_text=True)
    assert "Campaign steps considered" in page
    assert "excluded: refunded on" in page
    sent = Message.select().where(Message.state == "sent").first()
    page = signed_in.get(f"/orders/{sent.order_id}").get_data(as_text=True)
    assert "dry run" in page and "Sent" in page


def test_messages_filter(signed_in):
    signed_in.post("/demo", data={"csrf_token": token(signed_in, "/")})
    page = signed_in.get("/messages/?state=sent").get_data(as_text=True)
    assert "dry run" in page and "Scheduled</span>" not in page


def test_plugins_page_says_how_to_load_an_installed_plugin(signed_in):
    page = signed_in.get("/plugins/").get_data(as_text=True)
    assert "Installed, not loaded" in page
    section = page.split("Installed, not loaded", 1)[1].split("</section>", 1)[0]
    # the test config loads amazon and demo only; the project's other plugins are installed
    assert all(f"<code>{name}</code>" in section for name in ("eu_vat", "email", "sequences"))
    assert "<code>amazon</code>" not in section and "[plugins] enabled" in section
