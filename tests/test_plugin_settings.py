"""Every plugin's settings go through one check (core.setting_checks), wherever they come
from; the Amazon plugin's endpoints accept Amazon's https hosts only, and its secrets are
never sent anywhere else."""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from core import SettingRefused
from core.config import ConfigError
from core.credentials import save_account_credentials
from core.crypto import encrypt_json
from core.models import PluginSetting
from plugins.amazon.client import AmazonError, make_client
from plugins.amazon.source import check_connection as amazon_check_connection
from tests.fake_spapi.harness import CREDS, amazon_settings, connect, connected
from tests.support.web import csrf_token, login, make_admin
from web import create_app

PLUGINS = {"enabled": ["amazon", "demo", "review_timing", "email"], "entrypoints": False}


class Catcher(HTTPServer):
    """An admin's own server on 127.0.0.1: records every request it gets."""

    def __init__(self):
        self.requests: list[tuple[str, bytes]] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - BaseHTTPRequestHandler's naming
                length = int(self.headers.get("Content-Length") or 0)
                catcher.requests.append((self.path, self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"access_token": "x", "expires_in": 3600}')

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_port}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def catcher():
    server = Catcher()
    yield server
    server.shutdown()
    server.server_close()


def admin_client(engine):
    app = create_app(engine=engine)
    app.config["TESTING"] = True
    make_admin()
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/plugins/"), **data})


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# -- one check for every plugin, with the field named -----------------------------------------


@pytest.mark.parametrize(
    ("plugin", "form", "shown"),
    [
        (
            "review_timing",
            {"local_hour": "25"},
            "25 is out of range: enter a whole number from 0 to 23",
        ),
        (
            "review_timing",
            {"offset_days": "-4"},
            "-4 is out of range: enter a whole number from 0 to 25",
        ),
        ("amazon", {"first_sync_days": "-10"}, "Days read at the first sync: -10 is out of range"),
        ("amazon", {"endpoint": "not a url"}, "API endpoint override: 'not a url' is not an https"),
        ("amazon", {"timeout": "0"}, "Request timeout (seconds): 0 is out of range"),
        ("email", {"smtp_port": "70000"}, "SMTP port: 70000 is out of range"),
    ],
)
def test_bad_plugin_settings_are_refused_naming_the_field(make_engine, plugin, form, shown):
    engine = make_engine(plugins=PLUGINS)
    client = admin_client(engine)
    response = post(client, f"/plugins/{plugin}/settings", **form)
    assert response.status_code == 422
    assert shown in page(response)
    assert not PluginSetting.select().where(PluginSetting.plugin == plugin).exists()


def test_good_values_are_saved(make_engine):
    engine = make_engine(plugins=PLUGINS)
    client = admin_client(engine)
    ok = post(client, "/plugins/review_timing/settings", local_hour="23", offset_days="0")
    assert ok.status_code == 302
    assert engine.plugin_setting("review_timing", "local_hour") == 23
    sandbox = "https://sandbox.sellingpartnerapi-eu.amazon.com"
    assert post(client, "/plugins/amazon/settings", endpoint=sandbox).status_code == 302
    assert engine.plugin_setting("amazon", "endpoint") == sandbox


def test_a_plugin_storing_a_bad_value_is_refused_with_the_key(make_engine):
    engine = make_engine(plugins=PLUGINS)
    with pytest.raises(SettingRefused, match="local_hour: 24 is out of range"):
        engine.set_plugin_setting("review_timing", "local_hour", 24)
    with pytest.raises(SettingRefused, match="lwa_url: 'http://127.0.0.1:1/' is not an https"):
        engine.set_plugin_setting("amazon", "lwa_url", "http://127.0.0.1:1/")


def test_bad_plugin_settings_in_config_toml_stop_the_start(make_engine):
    with pytest.raises(ConfigError, match=r"\[plugin_settings.review_timing\] local_hour: 25"):
        make_engine(plugins=PLUGINS, plugin_settings={"review_timing": {"local_hour": 25}})
    local = {"amazon": {"lwa_url": "http://127.0.0.1:9/auth/o2/token"}}
    with pytest.raises(ConfigError, match=r"\[plugin_settings.amazon\] lwa_url: .* not an https"):
        make_engine(plugins=PLUGINS, plugin_settings=local)
    local["amazon"]["development_endpoints"] = True  # the tests' fake SP-API needs this flag
    engine = make_engine(plugins=PLUGINS, plugin_settings=local)
    assert engine.plugin_setting("amazon", "lwa_url") == "http://127.0.0.1:9/auth/o2/token"


# -- the Amazon secrets go to Amazon only --------------------------------------------------


def test_an_admin_pointing_lwa_url_at_their_server_never_receives_the_secrets(
    make_engine, fake, catcher
):
    engine, account = connected(make_engine, fake)
    client = admin_client(engine)
    steal = catcher.url + "/auth/o2/token"
    refused = post(client, "/plugins/amazon/settings", lwa_url=steal)
    assert refused.status_code == 422
    assert "is not an https address" in page(refused)
    # Even a value stored before this check existed (or written to the database
    # directly) is not used: the client checks before any secret leaves.
    PluginSetting.create(plugin="amazon", marketplace="", key="lwa_url", value=steal)
    problem = amazon_check_connection(engine, account)
    assert "setting lwa_url" in problem and "not an https address" in problem
    PluginSetting.update(value=catcher.url).where(PluginSetting.key == "lwa_url").execute()
    PluginSetting.create(plugin="amazon", marketplace="", key="endpoint", value=catcher.url)
    assert "setting endpoint" in amazon_check_connection(engine, account)
    assert catcher.requests == []
    assert fake.count("/auth/o2/token") == 0


def test_changing_an_endpoint_needs_the_secrets_entered_again(make_engine, fake):
    engine, account = connected(make_engine, fake)
    make_client(engine, account, _sellers(), "DE")  # bound to the endpoints in force
    client = admin_client(engine)
    sandbox = "https://sandbox.sellingpartnerapi-eu.amazon.com"
    saved = post(client, "/plugins/amazon/settings", endpoint=sandbox)
    assert saved.status_code == 302
    shown = page(client.get(saved.headers["Location"]))
    assert "API endpoint override changed: enter each account's secrets again" in shown
    with pytest.raises(AmazonError, match="changed since this account's secrets were entered"):
        make_client(engine, account, _sellers(), "DE")
    save_account_credentials(engine, account, dict(CREDS))  # entered again
    assert make_client(engine, account, _sellers(), "DE").endpoint == sandbox


def test_secrets_saved_before_bindings_count_as_entered_for_config_toml(make_engine, fake):
    engine = make_engine(plugin_settings=amazon_settings(fake))
    account = connect(engine)
    account.credentials = encrypt_json(engine.settings, dict(CREDS))  # as stored before
    account.save()
    make_client(engine, account, _sellers(), "DE")  # no error: config.toml's endpoints
    PluginSetting.create(
        plugin="amazon",
        marketplace="",
        key="endpoint",
        value="https://sandbox.sellingpartnerapi-eu.amazon.com",
    )
    with pytest.raises(AmazonError, match="enter them again on the Accounts page"):
        make_client(engine, account, _sellers(), "DE")


def _sellers():
    from sp_api.api import Sellers

    return Sellers
