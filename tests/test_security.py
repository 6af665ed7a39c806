"""Regression tests for the security review's findings, through the real app (Flask's
test client on a temp-file SQLite database)."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
import time
from datetime import datetime, timedelta

import pytest
from werkzeug.http import parse_options_header

from core import clock
from core.attachments import StoredFile, Upload, store
from core.csv_out import safe_cell
from core.models import (
    AuditLog,
    Campaign,
    EmailTheme,
    LoginSession,
    Order,
    SellerAccount,
    Template,
    User,
)
from core.themes import lint_layout
from tests.support.figures import record
from tests.support.outbox import flashes, user_client
from tests.support.web import PASSWORD, csrf_token, login
from tests.test_attachments import PDF
from web.downloads import content_disposition


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


# -- CSV exports never run as formulas ------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_messages_export_neutralises_formula_cells(signed_in, account):
    from tests.support.outbox import add_message, campaign_step, stored_order

    account.name = "=cmd|' /C calc'!A0"
    account.save()
    step = campaign_step(name="+evil campaign")
    for n, formula in enumerate(FORMULAS):
        order = stored_order(account, order_id=f"{formula}-{n}")
        add_message(order, step, "skipped", reason=formula)
    rows = list(csv.reader(io.StringIO(signed_in.get("/messages/export.csv").get_data(True))))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=cmd|' /C calc'!A0" in cells and "'+evil campaign" in cells
    assert {f"'{f}-{n}" for n, f in enumerate(FORMULAS)} <= set(cells)


def test_ab_export_neutralises_formula_cells(signed_in):
    from tests.support.outbox import campaign_step

    step = campaign_step(name="=1+2")
    body = signed_in.get(f"/campaigns/{step.campaign_id}/steps/{step.id}/ab.csv").get_data(True)
    header, *rows = csv.reader(io.StringIO(body))
    assert header[:2] == ["campaign", "step"]
    for row in rows:
        assert row[0] == "'=1+2" and row[1] == "'=1+2 step"


def test_safe_cell_keeps_numbers_and_plain_text():
    assert safe_cell(-5) == -5 and safe_cell(None) == "" and safe_cell("Lamp") == "Lamp"
    assert safe_cell("-5") == "'-5" and safe_cell("\r=1") == "'\r=1"


# -- downloads: any file name, no header injection -------------------------------------


def _stored(filename: str) -> StoredFile:
    """A file as an upload of ``filename`` stores it (browsers send ``"`` as it is)."""
    campaign = Campaign.create(name="Manuals")
    upload = Upload(
        name="Manual",
        kind="instructions",
        filename=filename,
        data=PDF,
        campaign_id=campaign.id,
        step_id=None,
        sku="",
    )
    return store(upload, user="admin")


@pytest.mark.parametrize(
    ("filename", "fallback"),
    [
        ("取扱説明書.pdf", "download.pdf"),
        ('a"; filename=evil.exe; x=".pdf', "a__ filename=evil.exe_ x=_.pdf"),
        ("Gebrauchsanweisung für Wasserkocher.pdf", "Gebrauchsanweisung fur Wasserkocher.pdf"),
    ],
)
def test_download_names_any_file_without_header_injection(signed_in, filename, fallback):
    stored = _stored(filename)
    response = signed_in.get(f"/files/{stored.id}")
    assert response.status_code == 200 and response.data == PDF
    header = response.headers["Content-Disposition"]
    params = parse_options_header(header)
    assert params[0] == "attachment"
    assert set(params[1]) <= {"filename", "filename*"}  # no parameter added by the name
    assert params[1]["filename"] == filename  # werkzeug decodes filename* (RFC 5987)
    assert f'filename="{fallback}"' in header


def test_content_disposition_is_one_header_line():
    header = content_disposition('x"\r\nSet-Cookie: a=b.csv')
    assert "\r" not in header and "\n" not in header
    assert parse_options_header(header)[1]["filename"] == 'x"Set-Cookie: a=b.csv'


# -- next= stays on this site --------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/%2F/evil.example",
        "/%5Cevil.example",
        "/\t/evil.example",
        "%2F%2Fevil.example",
        "http:/evil.example",
    ],
)
def test_next_never_leaves_the_site(client, target):
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "next": target,
              "csrf_token": csrf_token(client)},
    )  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_to_a_local_page_is_kept(client):
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "next": "/orders/?q=a%20b",
              "csrf_token": csrf_token(client)},
    )  # fmt: skip
    assert response.headers["Location"] == "/orders/?q=a%20b"


# -- no 500s: bounded ids, filter typos ------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/orders/9223372036854775808",
        "/orders/99999999999999999999999",
        "/orders/²",
        "/orders/٣",
        "/files/9223372036854775808",
        "/templates/9223372036854775808",
        "/campaigns/1/steps/9223372036854775808/ab.csv",
        "/templates/1?order=²",
        "/templates/1?order=99999999999999999999",
        "/messages/?campaign=²&account=99999999999999999999",
        "/messages/?after=99999999999999999999",
        "/settings/audit?page=99999999999999999999",
    ],
)
def test_out_of_range_and_unicode_numbers_are_not_server_errors(signed_in, path):
    Template.create(name="Manual", channel="email", message_type="other")
    assert signed_in.get(path).status_code in (200, 400, 404)


@pytest.mark.parametrize(
    "body", ["Hi {{ order_id|uper }}", "{% for x in order_id|revers %}{% endfor %}"]
)
def test_a_filter_typo_is_a_clear_error_in_the_editors(signed_in, body):
    template = _template()
    token = csrf_token(signed_in, "/templates/")
    form = {"body": body, "language": "en", "csrf_token": token}
    for url in (f"/templates/{template.id}/preview", f"/templates/{template.id}"):
        response = signed_in.post(url, data=form)
        assert response.status_code == 422
        assert "No filter named" in response.get_data(as_text=True)


# -- the theme checker reads links as the browser does ---------------------------------


@pytest.mark.parametrize(
    "part",
    [
        '<a href="jav&#x61;script:alert(1)">manual</a>',
        '<a href="javascript&colon;alert(1)">manual</a>',
        '<a href="java&#9;script:alert(1)">manual</a>',
        "<a href='&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1)'>x</a>",
        '<div style="background: \\75rl(https://track.example/p.gif)">x</div>',
        '<style>@\\69mport "https://track.example/s.css";</style>',
    ],
)
def test_theme_with_an_encoded_script_link_is_refused(signed_in, part):
    token = csrf_token(signed_in, "/templates/themes")
    layout = f"<div>{{{{ body }}}}</div>{part}"
    refused = signed_in.post(
        "/templates/themes", data={"csrf_token": token, "name": "Sneaky", "layout": layout}
    )
    assert refused.status_code == 422
    assert "FU-THEME-ACTIVE" in refused.get_data(as_text=True)
    assert EmailTheme.select().count() == 0


def test_theme_with_an_escaped_ampersand_in_a_link_is_fine():
    layout = '<div style="border-left: 3px solid #333">{{ body }}</div><p>Nordlicht &amp; Co</p>'
    assert [f.rule_id for f in lint_layout(layout)] == []


# -- order import: only admins create accounts, and it is audited -----------------------


def _import(client, account: str, data: bytes, filename="All Orders.txt"):
    return client.post(
        "/accounts/import",
        data={
            "csrf_token": csrf_token(client, "/accounts/"),
            "account": account,
            "source": "amazon",
            "file": (io.BytesIO(data), filename),
        },
        content_type="multipart/form-data",
    )


def test_an_editor_imports_into_existing_accounts_only(app):
    from tests.test_cli import REPORT

    editor = user_client(app, "editor")
    for data in (b"order,date\n1,2\n", REPORT.encode()):  # a failed and a good import
        refused = _import(editor, "=Shadow shop", data)
        assert refused.status_code == 422
        assert "ask an admin to create it" in refused.get_data(as_text=True)
    assert SellerAccount.select().count() == 0
    SellerAccount.create(name="My shop", source="amazon")
    assert _import(editor, "My shop", REPORT.encode()).status_code == 302
    assert Order.select().count() == 2 and SellerAccount.select().count() == 1


def test_an_admin_import_that_creates_an_account_is_audited(signed_in):
    from tests.test_cli import REPORT

    failed = _import(signed_in, "New shop", b"order,date\n1,2\n", "wrong.csv")
    assert failed.status_code == 422
    assert SellerAccount.select().count() == 0  # a failed import leaves no account
    assert _import(signed_in, "New shop", REPORT.encode()).status_code == 302
    assert SellerAccount.get(SellerAccount.name == "New shop")
    entry = AuditLog.get(AuditLog.action == "account_created")
    assert entry.user == "admin" and entry.target == "New shop"
