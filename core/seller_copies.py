"""Copies to the seller's own test address: previews from the template editor and the
messages of campaigns in "test" status.

A campaign in test status sends only through the dry-run sender (nothing reaches a
buyer); so the seller can still read what a buyer would get, each of its messages is
also emailed to the account's own ``test_address`` through a sender that offers
``send_test`` (the email plugin: ``[TEST]`` subject, ``X-Followup-Test`` header, refuses
anything but that address). A copy that cannot go out never changes the message's state:
the reason says why, in words a seller can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_TEST_SENDER = (
    'enable the email plugin (add "email" to [plugins] enabled) and set up its SMTP server '
    "on the Plugins page"
)
NO_TEST_ADDRESS = "set a test address on the account (Accounts page)"


@dataclass
class SellerCopy:
    """What a test send did: ``emailed`` to the seller's own address, or why not."""

    emailed: bool
    detail: str
    why_not: str = ""
    failed: bool = False


def copy_blocker(engine) -> str:
    """Why no test can be emailed at all (no sender offers ``send_test``), or ""."""
    return "" if any(s.send_test is not None for s in engine.senders.values()) else NO_TEST_SENDER


def email_copy(engine, account, rendered, marketplace: str = "") -> SellerCopy:
    """Email ``rendered`` to the account's own test address via a sender's ``send_test``.

    Only a sender that offers ``send_test`` (the email plugin) can do it; everything it
    refuses or cannot do comes back as ``why_not``.
    """
    if not account.test_address:
        return SellerCopy(False, "", NO_TEST_ADDRESS)
    sender = next((s for s in engine.senders.values() if s.send_test is not None), None)
    if sender is None:
        return SellerCopy(False, "", NO_TEST_SENDER)
    outcome = sender.send_test(
        engine, account, rendered, account.test_address, marketplace=marketplace
    )
    if outcome.status == "sent":
        return SellerCopy(True, outcome.detail)
    return SellerCopy(False, "", outcome.detail, failed=outcome.status != "skipped")


def copy_note(engine, account, rendered, marketplace: str) -> str:
    """Email a test campaign's message to the seller and say what happened, for its reason."""
    result = email_copy(engine, account, rendered, marketplace)
    if result.emailed:
        return f"test copy emailed to {account.test_address}"
    return f"no test copy: {result.why_not}"
