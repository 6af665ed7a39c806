"""Migrations from an empty database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from core import migrations
from core.engine import Engine
from core.models import ALL_MODELS, SellerAccount


def table_names(db):
    return set(db.get_tables())


def test_empty_sqlite_database_gets_every_table_once(make_settings):
    engine = Engine(make_settings())
    assert engine.migrate() == [name for _, name in migrations.available()]
    assert engine.migrate() == []  # applying again is a no-op
    tables = table_names(engine.db)
    assert {m._meta.table_name for m in ALL_MODELS} <= tables
    assert "schema_migrations" in tables
    assert migrations.pending(engine.db) == []
    engine.close()


def test_sqlite_runs_in_wal_mode_with_busy_timeout(engine):
    assert engine.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert engine.db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000


@pytest.mark.postgres
def test_empty_postgresql_database(make_settings, pg_url):
    engine = Engine(make_settings(database={"url": pg_url}))
    applied = engine.migrate()
    assert applied and engine.migrate() == []
    assert {m._meta.table_name for m in ALL_MODELS} <= table_names(engine.db)
    SellerAccount.create(name="pg", source="demo", marketplaces=["DE"])
    assert SellerAccount.get().marketplaces == ["DE"]
    engine.close()


@pytest.mark.postgres
def test_review_window_step_plans_on_postgresql(make_engine, pg_url):
    """Regression: the default review window's source (a 75-character description) is
    recorded as the decision's ``decided_by``; PostgreSQL refused it in a varchar(40)."""
    from core.models import Campaign, Decision, SellerAccount, Step
    from core.planning import plan_orders
    from core.store import store_orders
    from tests.conftest import order_data

    engine = make_engine(database={"url": pg_url})
    account = SellerAccount.create(name="S", source="demo")
    result = store_orders(account, [order_data("DE")], "test", set(engine.marketplaces))
    campaign = Campaign.create(name="Review", status="active")
    Step.create(campaign=campaign, trigger="delivered", anchor="review_window", sender="dry_run")
    plan_orders(engine, result.changed_ids)
    (decision,) = Decision.select()
    assert decision.outcome == "planned"
    assert "5 days after earliest to 30 days after latest delivery" in decision.decided_by


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_0014_adds_the_replan_request_to_an_older_database(make_engine, request, backend):
    from core.models import Campaign

    sections = (
        {"database": {"url": request.getfixturevalue("pg_url")}} if backend != "sqlite" else {}
    )
    engine = make_engine(**sections)
    for column in ("replan_requested_at", "replan_lease_until"):
        engine.db.execute_sql(f'ALTER TABLE "campaign" DROP COLUMN "{column}"')
    engine.db.execute_sql("DELETE FROM schema_migrations WHERE version = 14")
    assert engine.migrate() == ["0014_campaign_replan_request"]
    columns = {c.name for c in engine.db.get_columns("campaign")}
    assert {"replan_requested_at", "replan_lease_until"} <= columns
    Campaign.create(name="After upgrade")
    assert Campaign.get().replan_requested_at is None
    assert engine.migrate() == []


@pytest.mark.postgres
def test_0024_an_older_postgresql_database_takes_amazons_long_order_statuses(make_engine, pg_url):
    """Seller Central's report says "Shipped - Returning to Seller" (29 characters): an
    upgraded PostgreSQL database stores it instead of refusing the whole import."""
    from core.models import SellerAccount
    from core.store import store_orders
    from tests.conftest import order_data

    engine = make_engine(database={"url": pg_url})
    engine.db.execute_sql('ALTER TABLE "order" ALTER COLUMN status TYPE VARCHAR(24)')
    engine.db.execute_sql("DELETE FROM schema_migrations WHERE version = 24")
    assert engine.migrate() == ["0024_order_status_width"]
    account = SellerAccount.create(name="S", source="demo", marketplaces=["US"])
    data = order_data("US", status="Shipped - Returning to Seller")
    result = store_orders(account, [data], "test", set(engine.marketplaces))
    assert not result.errors
    from core.models import Order

    assert Order.get().status == "Shipped - Returning to Seller"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_0023_adds_the_accounts_allowed_words_to_an_older_database(make_engine, request, backend):
    sections = (
        {"database": {"url": request.getfixturevalue("pg_url")}} if backend != "sqlite" else {}
    )
    engine = make_engine(**sections)
    SellerAccount.create(name="Before upgrade", source="demo")
    engine.db.execute_sql('ALTER TABLE "seller_account" DROP COLUMN "allowed_words"')
    engine.db.execute_sql("DELETE FROM schema_migrations WHERE version = 23")
    assert engine.migrate() == ["0023_account_allowed_words"]
    assert SellerAccount.get().allowed_words == ""
    assert engine.migrate() == []


def test_0025_renames_the_dotted_audit_actions(engine):
    from core.models import AuditLog

    AuditLog.create(action="file.upload", target="file 1")
    AuditLog.create(action="file.delete", target="file 1")
    AuditLog.create(action="login", target="admin")
    engine.db.execute_sql("DELETE FROM schema_migrations WHERE version = 25")
    assert engine.migrate() == ["0025_audit_action_names"]
    actions = [a.action for a in AuditLog.select().order_by(AuditLog.id)]
    assert actions == ["file_uploaded", "file_deleted", "login"]


def test_audit_actions_are_written_in_one_style():
    """Every action string given to ``audit(...)`` or ``AuditLog.create(action=...)`` is
    lower-case words joined by underscores (``noun_verbed``), never dotted."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    written = re.compile(r'(?:\baudit\(|action=)f?"([^"]*)"')
    bad = []
    for path in [*(repo / "core").rglob("*.py"), *(repo / "web").rglob("*.py")]:
        for action in written.findall(path.read_text()):
            if not re.fullmatch(r"[a-z]+(_[a-z{}]+)*", action):
                bad.append(f"{path.relative_to(repo)}: {action}")
    assert not bad, bad
