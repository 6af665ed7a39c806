"""Fixtures shared by the web tests: a Flask test client signed in as an admin, and a
real waitress server on 127.0.0.1 driven by Debian's Chromium through Playwright.

Imported into ``tests/conftest.py`` so every test module can ask for them by name.
"""

from __future__ import annotations

import re
import threading

import pytest
from waitress.server import create_server

from core.models import User
from core.passwords import hash_password
from tests.support.servers import ACCOUNT_SECRETS
from web import create_app

PASSWORD = "correct-horse-battery"
CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium as root, on a machine whose only network is loopback: without the
# background-networking flags it tries Google's hosts at every start.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def make_admin(username: str = "admin", role: str = "admin") -> User:
    """A user whose password is ``PASSWORD`` and needs no first-login change."""
    return User.create(
        username=username,
        password_hash=hash_password(PASSWORD),
        role=role,
        must_change_password=False,
    )


@pytest.fixture
def app(engine):
    app = create_app(engine=engine)
    app.config["TESTING"] = True
    make_admin()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token embedded in the page at ``path``."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username: str = "admin", password: str = PASSWORD):
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )


@pytest.fixture
def signed_in(client):
    assert login(client).status_code == 302
    return client


# The Accounts page's form for an Amazon seller in Germany, its secrets aside.
ACCOUNT_FORM = dict(
    name="EU shop",
    source="amazon",
    region="EU",
    marketplaces=["DE"],
    test_address="me@example.com",
)


def accounts_post(client, path: str, **data):
    """POST ``data`` to ``path`` with the CSRF token of the Accounts page."""
    return client.post(path, data={"csrf_token": csrf_token(client, "/accounts/"), **data})


def connect_account(client, **overrides):
    """Connect the ``ACCOUNT_FORM`` seller with ``ACCOUNT_SECRETS`` on the Accounts page;
    ``overrides`` change any field."""
    return accounts_post(
        client, "/accounts/new", **{**ACCOUNT_FORM, **ACCOUNT_SECRETS, **overrides}
    )


def serve(app):
    """Run ``app`` on a free loopback port in a thread; returns (url, server)."""
    srv = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=srv.run, daemon=True).start()
    return f"http://127.0.0.1:{srv.effective_port}", srv


@pytest.fixture
def live_server(engine):
    """The admin served by waitress; an ``admin`` user with ``PASSWORD`` exists."""
    app = create_app(engine=engine)
    make_admin()
    url, srv = serve(app)
    yield url
    srv.close()


@pytest.fixture
def page():
    """A Chromium page; ``page.console_errors`` collects the console's errors."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.console_errors = errors
        yield page
        browser.close()


def browser_login(page, url: str, username: str = "admin", password: str = PASSWORD) -> None:
    """Sign in through the login form and wait for the dashboard."""
    page.goto(url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
