"""How long a buyer stays on the blocklist: ``core.blocklist``'s rule, which the Orders
and Blocklist pages only show. No Flask."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.blocklist import BLOCK_DAYS_MAX, BLOCK_DAYS_PROBLEM, block_days, block_expiry


@pytest.mark.parametrize(("text", "days"), [("", 0), ("  ", 0), ("1", 1), (" 30 ", 30)])
def test_empty_means_until_removed_and_days_are_whole_numbers(text, days):
    assert block_days(text) == (days, "")


def test_ten_years_is_the_longest_block():
    assert BLOCK_DAYS_MAX == 3650
    assert block_days("3650") == (3650, "")
    assert block_days("3651") == (0, BLOCK_DAYS_PROBLEM)


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "ten", "1e3", "²", "٣", "+5"])
def test_anything_else_is_refused_in_words_naming_the_field(text):
    days, problem = block_days(text)
    assert days == 0
    assert problem.startswith("For how long:")
    assert "1 to 3650" in problem


def test_the_expiry_is_that_many_days_on_or_none_for_always():
    now = datetime(2026, 3, 1, 12, 0)
    assert block_expiry(30, now) == now + timedelta(days=30)
    assert block_expiry(0, now) is None
