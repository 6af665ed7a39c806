"""The Plugins, Settings, Users and Audit pages through the Flask client: per-marketplace
toggles (config.toml restrictions read-only), plugin settings validated and saved per
scope, plugin passwords sealed in the database, users and roles with the last admin
protected, and the audit log newest first."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.clock import utcnow
from core.models import AuditLog, PluginSetting, User
from tests.support.web import PASSWORD, csrf_token, login, make_admin
from web import create_app


def post(client, path, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/plugins/"), **data})


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def admin_for(make_engine):
    """An admin's client on an app built from ``make_engine(**sections)``."""

    def build(**sections):
        engine = make_engine(**sections)
        app = create_app(engine=engine)
        app.config["TESTING"] = True
        make_admin()
        client = app.test_client()
        assert login(client).status_code == 302
        return engine, app, client

    return build


# -- plugins -------------------------------------------------------------------------


def test_plugins_page_toggles_a_plugin_per_marketplace(admin_for):
    engine, app, client = admin_for()
    page = text(client.get("/plugins/"))
    assert "Amazon Selling Partner API" in page and "Demo data" in page
    assert "default_vetoes" in page and "Built in — always on" in page
    markets = sorted(engine.marketplaces)
    response = post(client, "/plugins/amazon/toggles", on=[c for c in markets if c != "DE"])
    assert response.status_code == 302
    assert not engine.plugin_enabled("amazon", "DE")
    assert engine.plugin_enabled("amazon", "FR")
    assert "amazon" not in engine.enabled_plugins_for("DE")
    assert AuditLog.get(AuditLog.action == "plugin_disabled").target == "amazon/DE"
    page = text(client.get("/plugins/"))
    assert re.search(r'value="DE"\s*>\s*DE', page)  # unchecked now
    post(client, "/plugins/amazon/toggles", on=markets)
    assert engine.plugin_enabled("amazon", "DE")
    # the core's defaults (Amazon's hard limits among them) cannot be switched off
    assert post(client, "/plugins/default_vetoes/toggles", on=[]).status_code == 409
    assert engine.plugin_enabled("default_vetoes", "DE")


def test_config_restrictions_are_read_only(admin_for):
    engine, app, client = admin_for(**{"plugins.marketplaces": {"demo": ["US"]}})
    page = text(client.get("/plugins/"))
    assert "[plugins.marketplaces] demo = [&#34;US&#34;]" in page or (
        '[plugins.marketplaces] demo = ["US"]' in page
    )
    post(client, "/plugins/demo/toggles", on=["US", "DE"])
    assert engine.plugin_enabled("demo", "US")
    assert not engine.plugin_enabled("demo", "DE")  # config.toml wins over the page
    assert not PluginSetting.select().where(PluginSetting.marketplace == "DE").exists()


def test_plugin_settings_are_validated_and_saved_per_marketplace(admin_for):
    engine, app, client = admin_for()
    page = text(client.get("/plugins/amazon/settings"))
    assert "Days read at the first sync" in page and "Orders API version" in page
    bad = post(client, "/plugins/amazon/settings", first_sync_days="ten", orders_api="v9")
    assert bad.status_code == 422
    assert "Days read at the first sync: &#39;ten&#39; is not a whole number from 1 to 730" in text(
        bad
    ) or "Days read at the first sync: 'ten' is not a whole number from 1 to 730" in text(bad)
    assert "choose one of 2026-01-01, v0" in text(bad)
    assert 'value="ten"' in text(bad)  # the form comes back as typed
    assert engine.plugin_setting("amazon", "first_sync_days") == 30
    ok = post(client, "/plugins/amazon/settings", first_sync_days="45", backfill_report="true")
    assert ok.status_code == 302
    assert engine.plugin_setting("amazon", "first_sync_days") == 45
    assert engine.plugin_setting("amazon", "backfill_report") is True
    # one marketplace overrides the value for every marketplace; blank inherits again
    post(client, "/plugins/amazon/settings?marketplace=DE", first_sync_days="7", marketplace="DE")
    assert engine.plugin_setting("amazon", "first_sync_days", "DE") == 7
    assert engine.plugin_setting("amazon", "first_sync_days", "FR") == 45
    de_page = text(client.get("/plugins/amazon/settings?marketplace=DE"))
    assert 'value="7"' in de_page and 'placeholder="45"' in de_page
    post(client, "/plugins/amazon/settings?marketplace=DE", first_sync_days="", marketplace="DE")
    assert engine.plugin_setting("amazon", "first_sync_days", "DE") == 45
    assert client.get("/plugins/amazon/settings?marketplace=XX").status_code == 404
    assert client.get("/plugins/demo/settings").status_code == 404  # demo has no page
    assert "first_sync_days=45" in AuditLog.get(AuditLog.action == "plugin_settings").detail


def test_plugin_passwords_are_sealed_and_never_shown(admin_for):
    engine, app, client = admin_for(plugins={"enabled": ["amazon", "demo", "email"]})
    secret = "smtp-pa55word-never-shown"
    response = post(
        client,
        "/plugins/email/settings",
        smtp_host="smtp.example.com",
        smtp_username="shop",
        smtp_password=secret,
    )
    assert response.status_code == 302
    # the plugin gets the password back; the database, the page and the audit never see it
    assert engine.plugin_setting("email", "smtp_password") == secret
    stored = PluginSetting.get(PluginSetting.key == "smtp_password").value
    assert secret not in str(stored)
    page = text(client.get("/plugins/email/settings"))
    assert secret not in page and "stored — leave blank to keep" in page
    assert secret not in "".join(a.detail for a in AuditLog.select())
    # the database file and its WAL journal, where fresh writes sit until a checkpoint
    raw = b"".join(f.read_bytes() for f in engine.settings.data_dir.glob("followup.db*"))
    assert len(raw) > 10_000
    assert secret.encode() not in raw
    # saving again with the field blank keeps it; the checkbox removes it
    post(client, "/plugins/email/settings", smtp_host="smtp2.example.com", smtp_username="shop")
    assert engine.plugin_setting("email", "smtp_password") == secret
    post(client, "/plugins/email/settings", smtp_password__clear="1", smtp_username="shop")
    assert not engine.plugin_setting("email", "smtp_password")


def test_only_admins_change_plugins(admin_for):
    engine, app, client = admin_for()
    make_admin("eddie", role="editor")
    editor = app.test_client()
    login(editor, "eddie")
    assert editor.get("/plugins/").status_code == 200
    assert editor.get("/plugins/amazon/settings").status_code == 200
    assert post(editor, "/plugins/amazon/toggles", on=[]).status_code == 403
    assert post(editor, "/plugins/amazon/settings", first_sync_days="5").status_code == 403
    assert engine.plugin_enabled("amazon", "DE")
    assert engine.plugin_setting("amazon", "first_sync_days") == 30


# -- settings, users, audit --------------------------------------------------------


def test_settings_page_shows_config_keys_read_only_and_no_secret(admin_for):
    engine, app, client = admin_for(app={"test_mode": True, "timezone": "Europe/Berlin"})
    page = text(client.get("/settings/"))
    # Time zone and test mode are edited in the browser, starting from config.toml's values.
    assert 'name="test_mode" value="on" checked' in page
    assert 'name="timezone" value="Europe/Berlin"' in page
    assert "[sync] interval_minutes" in page and "restart the web admin" in page
    assert "Send windows" in page
    assert engine.settings.get("security", "encryption_key") not in page
    assert engine.settings.get("web", "secret_key") not in page
    forms = page.split("<main", 1)[1].count('<form method="post"')
    assert forms == 1  # the settings form: nothing else to submit


def test_admin_adds_a_user_with_a_one_time_password(admin_for):
    engine, app, client = admin_for()
    response = post(client, "/settings/users", username="eddie", role="editor")
    page = text(response)
    assert response.status_code == 200
    password = re.search(r'class="one-time">([^<]+)<', page).group(1)
    user = User.get(User.username == "eddie")
    assert user.role == "editor" and user.must_change_password
    assert password not in user.password_hash
    newcomer = app.test_client()
    assert login(newcomer, "eddie", password).headers["Location"].endswith("/password")
    assert newcomer.get("/").status_code == 302  # must choose a password first
    bad = post(client, "/settings/users", username="eddie", role="editor")
    assert bad.status_code == 422 and "already exists" in text(bad)
    assert post(client, "/settings/users", username="x", role="owner").status_code == 422
    assert post(client, "/settings/users", username="", role="viewer").status_code == 422


def test_roles_changes_and_the_last_admin_is_protected(admin_for):
    engine, app, client = admin_for()
    admin = User.get(User.username == "admin")
    make_admin("vera", role="viewer")
    vera = User.get(User.username == "vera")
    viewer = app.test_client()
    login(viewer, "vera")
    assert viewer.get("/settings/").status_code == 200
    for path in ("/settings/users", "/settings/audit"):
        assert viewer.get(path).status_code == 403
    assert post(viewer, "/settings/users", username="mallory", role="admin").status_code == 403
    # the only admin cannot be demoted, disabled or deleted
    demote = post(client, f"/settings/users/{admin.id}/role", role="viewer")
    assert demote.status_code == 422 and "last active admin" in text(demote)
    assert post(client, f"/settings/users/{admin.id}/delete").status_code == 422
    assert User.get_by_id(admin.id).role == "admin"
    # promote vera, then the first admin may step down, once they confirm it
    assert post(client, f"/settings/users/{vera.id}/role", role="admin").status_code == 302
    asked = post(client, f"/settings/users/{admin.id}/role", role="editor")
    assert asked.status_code == 200 and "Make yourself editor?" in text(asked)
    assert User.get_by_id(admin.id).role == "admin"
    confirmed = post(client, f"/settings/users/{admin.id}/role", role="editor", confirm="yes")
    assert confirmed.status_code == 302
    assert User.get_by_id(admin.id).role == "editor"
    assert AuditLog.get(AuditLog.action == "user_role", AuditLog.target == "vera").detail == (
        "viewer -> admin"
    )


def test_disable_signs_out_and_blocks_sign_in_enable_gives_new_password(admin_for):
    engine, app, client = admin_for()
    make_admin("eddie", role="editor")
    eddie = User.get(User.username == "eddie")
    session = app.test_client()
    login(session, "eddie")
    assert session.get("/orders/").status_code == 200
    assert post(client, f"/settings/users/{eddie.id}/disable").status_code == 302
    assert session.get("/orders/").status_code == 302  # the open session ended
    assert login(app.test_client(), "eddie").status_code == 401
    assert "disabled" in text(client.get("/settings/users"))
    page = text(post(client, f"/settings/users/{eddie.id}/enable"))
    password = re.search(r'class="one-time">([^<]+)<', page).group(1)
    assert login(app.test_client(), "eddie", password).status_code == 302
    assert login(app.test_client(), "eddie", PASSWORD).status_code == 401
    # you cannot disable or delete yourself
    me = User.get(User.username == "admin")
    assert post(client, f"/settings/users/{me.id}/disable").status_code == 422
    assert post(client, f"/settings/users/{eddie.id}/delete").status_code == 302
    assert User.get_or_none(User.username == "eddie") is None


def test_audit_log_is_newest_first_and_paginated(admin_for):
    engine, app, client = admin_for()
    start = utcnow() - timedelta(hours=2)
    for n in range(60):
        AuditLog.create(at=start + timedelta(minutes=n), user="bob", action=f"act_{n:02d}")
    first = text(client.get("/settings/audit?user=bob"))
    assert first.index("act_59") < first.index("act_58")
    assert "act_10" in first and "act_09" not in first  # 50 a page
    assert "Older" in first and "Newer" not in first
    second = text(client.get("/settings/audit?user=bob&page=2"))
    assert "act_09" in second and "act_00" in second and "act_10" not in second
    assert "Newer" in second and "Older" not in second
    everyone = text(client.get("/settings/audit"))
    assert "login" in everyone  # the admin's own sign-in is recorded too
    assert client.get("/settings/audit?page=x").status_code == 400
    assert "Nothing recorded for nobody" in text(client.get("/settings/audit?user=nobody"))


def test_a_plugin_refusing_a_marketplace_shows_it_locked(admin_for):
    engine, app, client = admin_for(plugins={"enabled": ["amazon", "demo", "eu_vat"]})
    page = text(client.get("/plugins/"))
    assert "EU VAT invoices apply only to the EU and UK marketplaces" in page
    post(client, "/plugins/eu_vat/toggles", on=["US", "DE"])
    assert not engine.plugin_enabled("eu_vat", "US")
    assert engine.plugin_enabled("eu_vat", "DE")
    assert not PluginSetting.select().where(PluginSetting.marketplace == "US").exists()
