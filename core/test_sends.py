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
class TestSend:
    """What a test send did: ``emailed`` to the seller's own address, or why not."""

    __test__ = False  # not a pytest class, whatever its name says

    emailed: bool
    detail: str
    why_not: str = ""
    failed: bool = False


def test_blocker(engine) -> str:
    """Why no test can be emailed at all (no sender offers ``send_test``), or ""."""
    return "" if any(s.send_test is not None for s in engine.senders.values()) else NO_TEST_SENDER


test_blocker.__test__ = False


def email_test(engine, account, rendered, marketplace: str = "") -> TestSend:
    """Email ``rendered`` to the account's own test address via a sender's ``send_test``.

    Only a sender that offers ``send_test`` (the email plugin) can do it; everything it
    refuses or cannot do comes back as ``why_not``.
    """
    if not account.test_address:
        return TestSend(False, "", NO_TEST_ADDRESS)
    sender = next((s for s in engine.senders.values() if s.send_test is not None), None)
    if sender is None:
        return TestSend(False, "", NO_TEST_SENDER)
    outcome = sender.send_test(
        engine, account, rendered, account.test_address, marketplace=marketplace
    )
    if outcome.status == "sent":
        return TestSend(True, outcome.detail)
    return TestSend(False, "", outcome.detail, failed=outcome.status != "skipped")


email_test.__test__ = False


def copy_note(engine, account, rendered, marketplace: str) -> str:
    """Email a test campaign's message to the seller and say what happened, for its reason."""
    test = email_test(engine, account, rendered, marketplace)
    if test.emailed:
        return f"test copy emailed to {account.test_address}"
    return f"no test copy: {test.why_not}"
