"""Fixtures for the real loopback servers several test modules share: aiosmtpd (STARTTLS +
AUTH, see ``tests.mailservers``) and the project's fake SP-API. Imported by conftest."""

from __future__ import annotations

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


@pytest.fixture
def fresh_limiter(monkeypatch):
    """The Amazon plugin's token buckets are per process; a test using this starts with
    full ones (``pytestmark = pytest.mark.usefixtures("fresh_limiter")``)."""
    monkeypatch.setattr(amazon_client, "limiter", RateLimiter())
