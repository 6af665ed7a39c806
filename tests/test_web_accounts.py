"""The Accounts pages through the Flask client: connecting a seller account with its
credentials (encrypted, never shown again, never in the database file in plain text),
validation, roles, "Test connection" against the fake SP-API over real HTTP, "Sync now"
on the huey runtime with its progress fragment, deleting and importing a report file."""

from __future__ import annotations

import time
from datetime import timedelta
from io import BytesIO

import pytest

from core.clock import utcnow
from core.credentials import account_credentials, save_account_credentials
from core.crypto import CredentialError
from core.models import AuditLog, Message, Order, SellerAccount
from core.queue import make_huey
from tests.fake_spapi.harness import amazon_settings
from tests.support.servers import ACCOUNT_SECRETS as SECRETS
from tests.support.web import accounts_post, connect_account, csrf_token, login, make_admin
from web import create_app

FR = "A13V1IB3VIYZZH"

pytestmark = pytest.mark.usefixtures("fresh_limiter")


@pytest.fixture
def fake(accounts_fake):
    """The fake SP-API knowing ``SECRETS`` (see ``tests.support.servers``)."""
    return accounts_fake


@pytest.fixture
def amazon_engine(make_engine, fake):
    return make_engine(plugin_settings=amazon_settings(fake, timeout=2))


@pytest.fixture
def web(amazon_engine):
    """An admin's Flask client on an app whose huey runs tasks at once (no worker)."""
    app = create_app(engine=amazon_engine, huey=make_huey(amazon_engine.settings, immediate=True))
    app.config["TESTING"] = True
    make_admin()
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def test_connect_stores_credentials_encrypted_and_never_shows_them(web, amazon_engine):
    response = connect_account(web)
    assert response.status_code == 302
    account = SellerAccount.get(SellerAccount.name == "EU shop")
    assert (account.region, account.marketplaces, account.test_address) == (
        "EU",
        ["DE"],
        "me@example.com",
    )
    assert account_credentials(amazon_engine, account) == SECRETS
    pages = "".join(
        web.get(path).get_data(as_text=True)
        for path in (
            "/accounts/",
            f"/accounts/{account.id}/edit",
            f"/accounts/{account.id}/progress",
            "/accounts/sync-status",
            f"/accounts/{account.id}/delete",
            "/settings/audit",
        )
    )
    assert "stored — leave blank to keep" in pages
    # the database file and its WAL journal, where fresh writes sit until a checkpoint
    raw = b"".join(f.read_bytes() for f in amazon_engine.settings.data_dir.glob("followup.db*"))
    assert len(raw) > 10_000
    for secret in (SECRETS["lwa_client_secret"], SECRETS["refresh_token"]):
        assert secret not in pages
        assert secret.encode() not in raw
    assert SECRETS["lwa_app_id"] not in pages  # only its last 4 characters, as a hint
    assert SECRETS["lwa_app_id"][-4:] in pages
    assert AuditLog.get(AuditLog.action == "account_connected").user == "admin"


def test_edit_keeps_blank_secrets_and_replaces_typed_ones(web, amazon_engine):
    connect_account(web)
    account = SellerAccount.get()
    response = web.post(
        f"/accounts/{account.id}/edit",
        data={
            "csrf_token": csrf_token(web, "/accounts/"),
            "name": "EU shop",
            "source": "amazon",
            "region": "EU",
            "marketplaces": ["DE", "FR"],
            "lwa_app_id": "",
            "lwa_client_secret": "a-new-secret-0002",
            "refresh_token": "",
        },
    )
    assert response.status_code == 302
    account = SellerAccount.get_by_id(account.id)
    assert account.marketplaces == ["DE", "FR"]
    assert account_credentials(amazon_engine, account) == {
        **SECRETS,
        "lwa_client_secret": "a-new-secret-0002",
    }


def test_bad_input_is_refused_with_422_and_secrets_not_echoed(web):
    response = connect_account(web, name="", marketplaces=["DE", "US"])
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Give the account a name" in page
    assert "US not in region EU" in page
    for secret in SECRETS.values():
        assert secret not in page
    response = connect_account(web, region="", lwa_client_secret="")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose the region" in page and "Enter the LWA client secret" in page
    assert connect_account(web, marketplaces=[]).status_code == 422
    assert connect_account(web, test_address="not an address").status_code == 422
    assert SellerAccount.select().count() == 0
    assert connect_account(web).status_code == 302
    assert connect_account(web).status_code == 422  # the same name twice


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda fake: None, "Connected"),
        (
            lambda fake: fake.clients.update({SECRETS["lwa_app_id"]: "another-secret"}),
            "Login with Amazon rejected the client id or client secret",
        ),
        (
            lambda fake: fake.refresh_tokens.discard(SECRETS["refresh_token"]),
            "the refresh token is invalid or was revoked",
        ),
        (
            lambda fake: fake.faults.update({"getMarketplaceParticipations": ["forbidden"]}),
            "the app is missing a role",
        ),
        (
            lambda fake: setattr(fake, "seller_marketplaces", {FR}),
            "the seller does not sell in DE with these credentials",
        ),
    ],
    ids=["connected", "bad-secret", "bad-refresh-token", "missing-role", "wrong-marketplace"],
)
def test_test_connection_says_exactly_what_failed(web, fake, setup, expected):
    # A refresh token never used before in this process: the SP-API library caches access
    # tokens by refresh token, which would hide a bad client secret.
    token = f"Atzr|unique-{expected[:12]}-{time.monotonic_ns()}"
    fake.refresh_tokens.add(token)
    assert connect_account(web, refresh_token=token).status_code == 302
    setup(fake)
    if expected.startswith("the refresh token"):
        fake.refresh_tokens.discard(token)
    account = SellerAccount.get()
    response = accounts_post(web, f"/accounts/{account.id}/test")
    assert response.status_code == 302
    page = web.get("/accounts/").get_data(as_text=True)
    assert expected in page
    if expected == "Connected":
        assert "failed" not in page
    else:
        assert "Test connection of EU shop failed" in page
    assert token not in page


def test_sync_now_runs_the_sync_and_the_progress_fragment_stops_polling(web, fake):
    for n in range(5):
        fake.add_order(f"302-100000{n}-1234567")
    connect_account(web)
    account = SellerAccount.get()
    assert accounts_post(web, f"/accounts/{account.id}/sync", mode="incremental").status_code == 302
    assert Order.select().where(Order.account == account).count() == 5
    fragment = web.get(f"/accounts/{account.id}/progress").get_data(as_text=True)
    assert "Sync done: 5 orders read" in fragment
    assert 'value="1" max="1"' in fragment
    assert "hx-trigger" not in fragment  # finished: the bar stops polling
    status = web.get("/accounts/sync-status").get_data(as_text=True)
    assert "EU shop" in status and "Sync done" in status and "hx-trigger" not in status
    # A full sync forgets the cursor and reads everything again, storing nothing twice.
    fake.add_order("302-1000009-1234567")
    assert accounts_post(web, f"/accounts/{account.id}/sync", mode="full").status_code == 302
    assert Order.select().count() == 6
    assert "Sync done: 6 orders read" in web.get(f"/accounts/{account.id}/progress").get_data(
        as_text=True
    )


def test_queued_sync_polls_every_second_until_the_worker_runs_it(amazon_engine, fake):
    huey = make_huey(amazon_engine.settings)  # memory huey, no consumer yet
    app = create_app(engine=amazon_engine, huey=huey)
    make_admin()
    client = app.test_client()
    login(client)
    fake.add_order("302-2000001-1234567")
    connect_account(client)
    account = SellerAccount.get()
    accounts_post(client, f"/accounts/{account.id}/sync")
    fragment = client.get(f"/accounts/{account.id}/progress").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in fragment and "waiting for the background worker" in fragment
    status = client.get("/accounts/sync-status").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in status
    # a second click while queued does not queue it twice
    accounts_post(client, f"/accounts/{account.id}/sync")
    assert len(huey) == 1
    task = huey.dequeue()
    huey.execute(task)  # what the worker does
    fragment = client.get(f"/accounts/{account.id}/progress").get_data(as_text=True)
    assert "Sync done: 1 orders read" in fragment and "hx-trigger" not in fragment
    assert SellerAccount.get_by_id(account.id).status == "ok"
    # a sync no worker picks up is not polled for ever; the page says what to check
    accounts_post(client, f"/accounts/{account.id}/sync")
    progress = SellerAccount.get_by_id(account.id).sync_progress
    progress["queued_at"] = (utcnow() - timedelta(minutes=20)).isoformat()
    SellerAccount.update(sync_progress=progress).execute()
    fragment = client.get(f"/accounts/{account.id}/progress").get_data(as_text=True)
    assert "no background worker picked it up" in fragment and "hx-trigger" not in fragment
    accounts_post(client, f"/accounts/{account.id}/sync")  # queued again
    assert len(huey) == 2


def test_roles_are_enforced(amazon_engine, fake):
    app = create_app(engine=amazon_engine, huey=make_huey(amazon_engine.settings, immediate=True))
    make_admin()
    make_admin("vera", role="viewer")
    make_admin("eddie", role="editor")
    admin = app.test_client()
    login(admin)
    connect_account(admin)
    account = SellerAccount.get()
    viewer = app.test_client()
    login(viewer, "vera")
    assert viewer.get("/accounts/").status_code == 200
    assert "Sync now" not in viewer.get("/accounts/").get_data(as_text=True)
    assert viewer.get("/accounts/new").status_code == 403
    for path in ("test", "sync", "delete", "edit"):
        assert accounts_post(viewer, f"/accounts/{account.id}/{path}").status_code == 403
    editor = app.test_client()
    login(editor, "eddie")
    assert accounts_post(editor, f"/accounts/{account.id}/test").status_code == 302
    assert accounts_post(editor, f"/accounts/{account.id}/delete").status_code == 403
    assert connect_account(editor).status_code == 403
    # no CSRF token: refused before anything happens
    assert editor.post(f"/accounts/{account.id}/sync").status_code == 400


def test_delete_asks_first_and_keeps_the_history_of_sent_messages(web, amazon_engine):
    connect_account(web)
    account = SellerAccount.get()
    page = web.get(f"/accounts/{account.id}/delete").get_data(as_text=True)
    assert "Delete EU shop?" in page and "cannot be undone" in page
    assert accounts_post(web, f"/accounts/{account.id}/delete").status_code == 302
    assert SellerAccount.select().count() == 0
    # an account that sent messages cannot be deleted: its history prevents a second message
    connect_account(web)
    account = SellerAccount.get()
    order = Order.create(
        account=account,
        order_id="302-3000001-1234567",
        marketplace="DE",
        fulfillment="FBM",
        status="Shipped",
        purchased_at=account.created_at,
        last_updated_at=account.created_at,
    )
    Message.create(
        order=order,
        account=account,
        sender="amazon_review",
        state="sent",
        due_at=account.created_at,
    )
    response = accounts_post(web, f"/accounts/{account.id}/delete")
    assert response.status_code == 409
    assert "1 messages were sent" in response.get_data(as_text=True)
    assert SellerAccount.select().count() == 1


def test_import_an_all_orders_report_file(web):
    from tests.test_cli import REPORT

    token = csrf_token(web, "/accounts/")
    response = web.post(
        "/accounts/import",
        data={
            "csrf_token": token,
            "account": "My shop",
            "source": "amazon",
            "file": (BytesIO(REPORT.encode()), "All Orders.txt"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = web.get("/accounts/").get_data(as_text=True)
    assert "2 new" in page and "My shop" in page
    assert Order.select().count() == 2
    wrong = web.post(
        "/accounts/import",
        data={
            "csrf_token": token,
            "account": "My shop",
            "source": "amazon",
            "file": (BytesIO(b"order,date\n1,2\n"), "wrong.csv"),
        },
        content_type="multipart/form-data",
    )
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422
    assert "not an All Orders report" in text and "wrong.csv" in text and "/tmp" not in text


def test_undecryptable_credentials_ask_to_enter_them_again(web, amazon_engine):
    connect_account(web)
    account = SellerAccount.get()
    SellerAccount.update(credentials=b"gAAAA-not-a-token").execute()
    with pytest.raises(CredentialError):
        account_credentials(amazon_engine, SellerAccount.get_by_id(account.id))
    page = web.get(f"/accounts/{account.id}/edit").get_data(as_text=True)
    assert "cannot be decrypted — enter it again" in page
    accounts_post(web, f"/accounts/{account.id}/test")
    assert "encryption_key changed" in web.get("/accounts/").get_data(as_text=True)
    save_account_credentials(amazon_engine, account, SECRETS)


def test_product_and_brand_names_are_saved_per_account_and_bad_ones_named(web):
    response = connect_account(web, allowed_words="<Lumo>, Brightline")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "&#39;&lt;Lumo&gt;&#39; cannot be a product or brand name" in page
    assert "Brightline" in page  # what was typed is shown again, nothing lost
    assert SellerAccount.select().count() == 0
    assert connect_account(web, allowed_words="Lumo, Brightline\nNordlicht").status_code == 302
    account = SellerAccount.get()
    assert account.allowed_words == "Lumo\nBrightline\nNordlicht"
    assert "Brightline" in web.get(f"/accounts/{account.id}/edit").get_data(as_text=True)
