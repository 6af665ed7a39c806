"""The web admin behind a TLS reverse proxy, and its monitoring endpoints.

* ``Secure`` and HSTS follow each request's real scheme (from the proxy when
  ``[web] trusted_proxies`` says there is one) and never carry over to a later request.
* ``/healthz`` answers without a login and without data; ``/metrics`` is off by default
  and needs the bearer token.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from core import clock, heartbeat
from core.clock import utcnow
from core.config import ConfigError
from core.demo import load_demo
from core.models import Attempt, Heartbeat, Message
from web import create_app


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if "followup_session" in c]
    assert cookies, response.headers
    return cookies[0]


def make_app(make_engine, **sections):
    app = create_app(engine=make_engine(**sections))
    app.config["TESTING"] = True
    return app


def test_secure_cookie_does_not_leak_to_later_plain_http_responses(make_engine):
    client = make_app(make_engine).test_client()
    direct_https = client.get("/login", base_url="https://admin.example")
    assert "Secure" in session_cookie(direct_https)
    client2 = client.application.test_client()
    plain = client2.get("/login", base_url="http://127.0.0.1:8000")
    assert "Secure" not in session_cookie(plain)  # it used to stick after one HTTPS request
    assert "Strict-Transport-Security" not in plain.headers
    assert direct_https.headers["Strict-Transport-Security"].startswith("max-age=")


def test_behind_a_trusted_proxy_the_scheme_and_client_come_from_the_proxy(make_engine, caplog):
    client = make_app(make_engine, web={"trusted_proxies": 1}).test_client()
    caplog.set_level(logging.INFO, logger="followup.access")
    via_proxy = client.get(
        "/login",
        base_url="http://127.0.0.1:8000",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    )
    assert "Secure" in session_cookie(via_proxy)
    assert "Strict-Transport-Security" in via_proxy.headers
    access = [r.getMessage() for r in caplog.records if r.name == "followup.access"]
    assert any(line.startswith("203.0.113.9 GET /login 200") for line in access), access


def test_without_trusted_proxies_forwarded_headers_are_ignored(make_engine, caplog):
    client = make_app(make_engine).test_client()
    caplog.set_level(logging.INFO, logger="followup.access")
    spoofed = client.get(
        "/login",
        base_url="http://127.0.0.1:8000",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    )
    assert "Secure" not in session_cookie(spoofed)
    access = [r.getMessage() for r in caplog.records if r.name == "followup.access"]
    assert access and not any("203.0.113.9" in line for line in access)


def test_always_and_never_modes(make_engine):
    always = make_app(make_engine, web={"secure_cookies": "always"}).test_client()
    assert "Secure" in session_cookie(always.get("/login"))
    never = make_app(make_engine, web={"secure_cookies": "never"}).test_client()
    response = never.get("/login", base_url="https://admin.example")
    assert "Secure" not in session_cookie(response)
    assert "Strict-Transport-Security" not in response.headers


def test_trusted_proxies_must_not_be_negative(make_settings):
    with pytest.raises(ConfigError, match=r"\[web\] trusted_proxies"):
        make_settings(web={"trusted_proxies": -1})


# -- /healthz -------------------------------------------------------------------


def test_healthz_needs_no_login_and_is_503_until_a_worker_beats(make_engine):
    client = make_app(make_engine).test_client()
    down = client.get("/healthz")
    assert down.status_code == 503
    assert down.get_data(as_text=True) == (
        "database: ok\nqueue: ok\nworker: has never run\ndue messages: ok\n"
    )
    heartbeat.beat()
    up = client.get("/healthz")
    assert up.status_code == 200, up.get_data(as_text=True)
    assert "worker: ok, last seen" in up.get_data(as_text=True)


def test_healthz_fails_on_a_stale_worker_and_overdue_messages(engine):
    app = create_app(engine=engine)
    client = app.test_client()
    load_demo(engine)
    heartbeat.beat()
    Heartbeat.update(beat_at=utcnow() - timedelta(minutes=10)).execute()
    # a due message the dispatcher should have sent half an hour ago
    message = Message.select().where(Message.state == "scheduled").first()
    Message.update(due_at=utcnow() - timedelta(minutes=30)).where(
        Message.id == message.id
    ).execute()
    response = client.get("/healthz")
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "worker: last seen 10 min ago" in body
    assert "due messages: waiting more than 15 min past due" in body
    assert message.order.order_id not in body  # no data


# -- /metrics -------------------------------------------------------------------


def test_metrics_is_off_by_default(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_needs_its_token_and_enabled_needs_one(make_engine, make_settings, monkeypatch):
    with pytest.raises(ConfigError, match=r"\[metrics\] token: required when enabled"):
        make_settings(metrics={"enabled": True})
    monkeypatch.setenv("FOLLOWUP_METRICS_TOKEN", "s3cret-token-for-prometheus")
    app = make_app(
        make_engine, metrics={"enabled": True, "token": {"env": "FOLLOWUP_METRICS_TOKEN"}}
    )
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token-for-prometheus"})
    assert ok.status_code == 200 and ok.mimetype == "text/plain"


def test_metrics_counts_sends_throttles_lag_and_the_daily_limit(make_engine, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_METRICS_TOKEN", "tok-tok-tok")
    app = make_app(
        make_engine, metrics={"enabled": True, "token": {"env": "FOLLOWUP_METRICS_TOKEN"}}
    )
    engine = app.extensions["followup"]
    load_demo(engine)
    heartbeat.beat()
    sent = Message.select().where(Message.state == "sent").count()
    throttled = Message.select().first()
    Attempt.create(message=throttled, outcome="throttled", finished_at=utcnow())
    Attempt.create(message=throttled, outcome="throttled", finished_at=utcnow())
    waiting = Message.select().where(Message.state == "scheduled").first()
    clock.freeze(utcnow())
    Message.update(due_at=utcnow() - timedelta(seconds=90)).where(
        Message.id == waiting.id
    ).execute()
    body = (
        app.test_client()
        .get("/metrics", headers={"Authorization": "Bearer tok-tok-tok"})
        .get_data(as_text=True)
    )
    print(body)  # the sample quoted in the report (pytest -s)
    assert (
        f'followup_messages{{state="sent",channel="dry_run",account="Demo seller"}} {sent}' in body
    )
    assert f'followup_api_throttles_total{{channel="{throttled.sender}"}} 2' in body
    assert "followup_queue_lag_seconds 90" in body
    assert 'followup_daily_limit{account="Demo seller"}' in body
    assert "followup_worker_heartbeat_age_seconds 0" in body
    assert "followup_backup_age_seconds -1" in body
    for line in body.splitlines():
        assert line.startswith("#") or line.startswith("followup_"), line


# -- the dashboard --------------------------------------------------------------


def test_dashboard_shows_the_worker_heartbeat(signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assert "The worker has not run yet" in page
    heartbeat.beat()
    page = signed_in.get("/").get_data(as_text=True)
    assert "Worker running: last seen" in page
    Heartbeat.update(beat_at=utcnow() - timedelta(hours=2)).execute()
    page = signed_in.get("/").get_data(as_text=True)
    assert "The worker was last seen 2 h ago" in page
