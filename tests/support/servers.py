"""Fixtures for the real loopback servers several test modules share: aiosmtpd (STARTTLS +
AUTH, see ``tests.mailservers``) and the project's fake SP-API. Imported by conftest."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest

from plugins.amazon import client as amazon_client
from plugins.amazon.ratelimit import RateLimiter
from tests.fake_spapi import FakeSPAPI
from tests.mailservers import SmtpServer


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory):
    """One SMTP server per test module (starting one takes a TLS handshake setup)."""
    server = SmtpServer(tmp_path_factory.mktemp("smtp")).start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server):
    """The module's SMTP server with nothing received yet."""
    smtp_server.received.clear()
    return smtp_server


@pytest.fixture
def fake():
    """A fresh fake SP-API on a free loopback port."""
    with FakeSPAPI() as server:
        yield server


# The LWA app and refresh token a seller enters on the Accounts pages (web and browser).
ACCOUNT_SECRETS = {
    "lwa_app_id": "amzn1.application-oa2-client.web-test-0001",
    "lwa_client_secret": "amzn1.oa2-cs.v1.S3CRET-never-shown-0001",
    "refresh_token": "Atzr|IwEB-refresh-never-shown-0001",
}


class SlowSearchFake(FakeSPAPI):
    """The fake SP-API with an optional delay (``search_delay`` seconds) on searchOrders,
    so a sync can be watched in progress."""

    def __init__(self):
        super().__init__()
        self.search_delay = 0.0
        self.RequestHandlerClass = _slow_search(self.RequestHandlerClass)


def _slow_search(base):
    class Handler(base):
        def do_GET(self):  # noqa: N802 - BaseHTTPRequestHandler's naming
            delay = self.server.search_delay
            if delay and urlparse(self.path).path == "/orders/2026-01-01/orders":
                time.sleep(delay)  # a slow Amazon: the progress bar is seen moving
            return super().do_GET()

    return Handler


@pytest.fixture
def accounts_fake():
    """A fake SP-API knowing ``ACCOUNT_SECRETS``' client and refresh token, with a
    ``search_delay`` knob (modules override ``fake`` with it)."""
    with SlowSearchFake() as server:
        server.clients = {ACCOUNT_SECRETS["lwa_app_id"]: ACCOUNT_SECRETS["lwa_client_secret"]}
        server.refresh_tokens.add(ACCOUNT_SECRETS["refresh_token"])
        yield server


@pytest.fixture
def fresh_limiter(monkeypatch):
    """The Amazon plugin's token buckets are per process; a test using this starts with
    full ones (``pytestmark = pytest.mark.usefixtures("fresh_limiter")``)."""
    monkeypatch.setattr(amazon_client, "limiter", RateLimiter())
