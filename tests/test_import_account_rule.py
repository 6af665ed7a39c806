"""Who may create a seller account by importing a file: ``core.importer``'s rule, which
the Accounts page only applies to the signed-in user and audits. No Flask."""

from __future__ import annotations

import pytest

from core.importer import import_orders, may_create_account
from core.models import Order, SellerAccount
from core.users import ROLES

HEADER = (
    "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\t"
    "sales-channel\tproduct-name\tsku\tasin\titem-status\tquantity\tcurrency\titem-price\n"
)
LINE = (
    "111-0000000-0000001\t2026-11-01T10:00:00+00:00\t2026-11-04T08:00:00+00:00\tShipped\t"
    "Amazon\tAmazon.com\tMug\tMUG-1\tB0MUG00001\tShipped - Delivered to Buyer\t1\tUSD\t12.50\n"
)


@pytest.mark.parametrize("role", ROLES)
def test_only_an_admin_may_create_an_account_by_import(role):
    assert may_create_account(role) == (role == "admin")


def test_an_unknown_role_may_not():
    assert not may_create_account("")
    assert not may_create_account("superuser")


@pytest.fixture
def report(tmp_path):
    path = tmp_path / "orders.txt"
    path.write_text(HEADER + LINE)
    return path


def test_an_import_that_may_not_create_refuses_a_new_account_and_stores_nothing(engine, report):
    # The exception's class name is left out: only its message is the promise here.
    with pytest.raises(Exception, match="no account named 'New shop'.*ask an admin"):
        import_orders(engine, report, "New shop", create_account=may_create_account("editor"))
    assert not SellerAccount.select().where(SellerAccount.name == "New shop").exists()
    assert Order.select().count() == 0


def test_an_import_that_may_not_create_still_fills_an_existing_account(engine, report):
    SellerAccount.create(name="Shop", source="amazon")
    text = import_orders(engine, report, "Shop", create_account=may_create_account("editor"))
    assert "1 new" in text
    assert Order.get().account.name == "Shop"


def test_an_admins_import_creates_the_account(engine, report):
    text = import_orders(engine, report, "New shop", create_account=may_create_account("admin"))
    assert "1 new" in text
    assert SellerAccount.get(SellerAccount.name == "New shop").source == "amazon"
