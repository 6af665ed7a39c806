"""The `followup` command, run as a real subprocess on a temp install."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS = [
    "init",
    "run",
    "web",
    "worker",
    "sync",
    "plan",
    "dispatch",
    "doctor",
    "import-orders",
    "demo",
    "trace",
]

REPORT = (
    "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\t"
    "fulfillment-channel\tsales-channel\torder-channel\tship-service-level\tproduct-name\tsku\t"
    "asin\titem-status\tquantity\tcurrency\titem-price\titem-tax\tshipping-price\tshipping-tax\t"
    "ship-city\tship-state\tship-postal-code\tship-country\tis-business-order\n"
    "302-1111111-2222222\t\t2026-11-01T10:00:00+00:00\t2026-11-04T08:00:00+00:00\tShipped\t"
    "Merchant\tAmazon.de\t\tStandard\tKaffeemühle\tKM-1\tB0KM000001\tShipped - Delivered to Buyer\t"
    "1\tEUR\t49.90\t7.97\t4.90\t0.78\tBerlin\t\t10115\tDE\tfalse\n"
    "302-1111111-2222222\t\t2026-11-01T10:00:00+00:00\t2026-11-04T08:00:00+00:00\tShipped\t"
    "Merchant\tAmazon.de\t\tStandard\tFilter\tKM-F\tB0KM000002\tShipped - Delivered to Buyer\t"
    "2\tEUR\t9.90\t1.58\t0\t0\tBerlin\t\t10115\tDE\tfalse\n"
    "111-3333333-4444444\t\t2026-11-02T15:30:00+00:00\t2026-11-02T16:00:00+00:00\tCancelled\t"
    "Amazon\tAmazon.com\t\tStandard\tSkillet\tCB-1\tB0CB000001\tCancelled\t1\tUSD\t39.99\t0\t0\t0\t"
    "Austin\tTX\t78701\tUS\tfalse\n"
)


@pytest.fixture
def install(tmp_path):
    config = (REPO / "config.toml").read_text().replace("entrypoints = true", "entrypoints = false")
    (tmp_path / "config.toml").write_text(config)
    return tmp_path


def followup(install, *args, stdin=None):
    env = dict(os.environ, FOLLOWUP_CONFIG=str(install / "config.toml"))
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        capture_output=True,
        text=True,
        cwd=install,
        env=env,
        input=stdin,
        timeout=120,
    )


def test_every_command_has_help(install):
    top = followup(install, "--help")
    assert top.returncode == 0
    for command in COMMANDS:
        assert command in top.stdout
        proc = followup(install, command, "--help")
        assert proc.returncode == 0, proc.stderr
        assert "usage: followup" in proc.stdout
    assert followup(install, "user", "add", "--help").returncode == 0


def test_init_creates_data_and_one_first_admin(install):
    first = followup(install, "init")
    assert first.returncode == 0, first.stderr
    password = re.search(r"one-time password: (\S+)", first.stdout).group(1)
    assert len(password) >= 12
    assert (install / "data" / "followup.db").exists()
    db = sqlite3.connect(install / "data" / "followup.db")
    assert db.execute("SELECT username, must_change_password FROM user").fetchall() == [
        ("admin", 1)
    ]
    assert password not in db.execute("SELECT password_hash FROM user").fetchone()[0]
    second = followup(install, "init")
    assert "one-time password" not in second.stdout


def test_demo_plan_dispatch_and_doctor(install):
    assert followup(install, "init").returncode == 0
    demo = followup(install, "demo")
    assert demo.returncode == 0, demo.stderr
    counts = re.search(r"(\d+) orders, (\d+) messages planned", demo.stdout)
    assert int(counts.group(1)) == 300 and int(counts.group(2)) > 50
    plan = followup(install, "plan")
    assert plan.returncode == 0 and "planned 0" in plan.stdout  # idempotent
    assert followup(install, "dispatch").returncode == 0
    doctor = followup(install, "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "all checks passed" in doctor.stdout
    assert "[ok] spelling dictionaries" in doctor.stdout


def test_doctor_names_missing_spelling_dictionaries(install, tmp_path):
    followup(install, "init")
    env = dict(
        os.environ,
        FOLLOWUP_CONFIG=str(install / "config.toml"),
        FOLLOWUP_DICT_DIR=str(tmp_path / "no-dict"),
    )
    doctor = subprocess.run(
        [sys.executable, "-m", "core.cli", "doctor"],
        capture_output=True,
        text=True,
        cwd=install,
        env=env,
        timeout=120,
    )
    assert doctor.returncode == 1
    assert "[FAIL] spelling dictionaries: missing " in doctor.stdout
    assert str(tmp_path / "no-dict" / "ngerman") in doctor.stdout
    assert "scripts/ensure-dictionaries" in doctor.stdout


def test_sync_reports_per_account(install):
    followup(install, "init")
    followup(install, "demo")
    proc = followup(install, "sync", "--account", "Demo seller")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.startswith("Demo seller: 0 new")


def test_import_orders_from_all_orders_report(install):
    followup(install, "init")
    path = install / "orders.txt"
    path.write_text(REPORT)
    proc = followup(install, "import-orders", str(path), "--account", "My shop")
    assert proc.returncode == 0, proc.stderr
    assert "2 new" in proc.stdout
    db = sqlite3.connect(install / "data" / "followup.db")
    rows = dict(db.execute('SELECT order_id, item_count FROM "order"').fetchall())
    assert rows == {"302-1111111-2222222": 3, "111-3333333-4444444": 1}
    events = db.execute("SELECT kind FROM order_event ORDER BY kind").fetchall()
    assert [e[0] for e in events] == ["cancelled", "delivered", "ordered", "ordered", "shipped"]
    again = followup(install, "import-orders", str(path), "--account", "My shop")
    assert "0 new" in again.stdout and "2 unchanged" in again.stdout


def test_import_orders_rejects_a_wrong_file_clearly(install):
    followup(install, "init")
    path = install / "wrong.csv"
    path.write_text("order,date\n1,2\n")
    proc = followup(install, "import-orders", str(path))
    assert proc.returncode == 2
    assert "not an All Orders report: missing column(s) amazon-order-id" in proc.stderr


def test_user_add_from_stdin(install):
    followup(install, "init")
    ok = followup(
        install,
        "user",
        "add",
        "maria",
        "--role",
        "viewer",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert ok.returncode == 0, ok.stderr
    short = followup(install, "user", "add", "li", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    dup = followup(install, "user", "add", "maria", "--password-stdin", stdin="a-long-password\n")
    assert "already exists" in dup.stderr


def test_doctor_names_the_broken_key(install):
    path = install / "config.toml"
    path.write_text(path.read_text().replace("batch_size = 50", 'batch_size = "fifty"'))
    proc = followup(install, "doctor")
    assert proc.returncode == 1
    assert "[dispatch] batch_size: expected an integer" in proc.stdout
