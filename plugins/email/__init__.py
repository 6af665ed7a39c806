"""Email channel: Amazon Buyer-Seller Messaging through the seller's own mail server.

* Sender ``email``: SMTP from the seller's registered address to the buyer's anonymized
  relay address (``…@marketplace.amazon.<tld>``); Amazon relays and scans the mail
  (docs/amazon-rules.md §2.3). See ``smtp_sender`` for the rules it enforces. Its ``send_test``
  emails a rendered template to the seller's own test address (Templates → Versions).
* Job ``email_inbox``: reads the seller's inbox over IMAP; a buyer reply is recorded and
  stops the rest of the order's sequence, Amazon's opt-out bounce puts the buyer on the
  opt-out list. See ``imap_reader``.

Settings are per marketplace (Plugins page) or in ``[plugin_settings.email]``; the keys
are the ``SettingField``s below. Passwords are read from the environment variable named
by ``smtp_password_env`` / ``imap_password_env`` (preferred) or from the stored setting.
"""

from __future__ import annotations

import logging

from core import Job, Sender, SettingField, SettingsPage, hookimpl

from . import imap_reader, smtp_sender
from .config import PLUGIN, SECURITY

log = logging.getLogger(__name__)

DEFAULT_INBOX_MINUTES = 5

FIELDS = (
    SettingField(
        "from_address",
        "Sender address",
        help="The email address registered in Seller Central; Amazon relays mail only from it.",
    ),
    SettingField("smtp_host", "SMTP server", help="e.g. smtp.example.com"),
    SettingField("smtp_port", "SMTP port", kind="int", default=587, minimum=1, maximum=65535),
    SettingField(
        "smtp_security",
        "SMTP security",
        kind="choice",
        default="starttls",
        choices=SECURITY,
        help="starttls (port 587), tls (port 465) or none (local relay only).",
    ),
    SettingField("smtp_username", "SMTP username"),
    SettingField(
        "smtp_password_env",
        "SMTP password: environment variable",
        help="Name of the environment variable holding the password (preferred).",
    ),
    SettingField(
        "smtp_password",
        "SMTP password",
        kind="password",
        help="Used when no environment variable is named. Never shown or logged.",
    ),
    SettingField(
        "smtp_timeout", "SMTP timeout (seconds)", kind="int", default=60, minimum=1, maximum=600
    ),
    SettingField("imap_host", "IMAP server", help="Empty: buyer replies are not read."),
    SettingField("imap_port", "IMAP port", kind="int", default=993, minimum=1, maximum=65535),
    SettingField("imap_security", "IMAP security", kind="choice", default="tls", choices=SECURITY),
    SettingField("imap_username", "IMAP username", help="Empty: the SMTP username."),
    SettingField("imap_password_env", "IMAP password: environment variable"),
    SettingField("imap_password", "IMAP password", kind="password"),
    SettingField("imap_folder", "Inbox folder", default="INBOX"),
    SettingField(
        "imap_sent_folder",
        "Sent folder",
        help="Optional: where the server keeps sent mail; used to confirm a send left in doubt.",
    ),
    SettingField(
        "tls_ca_file",
        "Extra CA certificate file",
        help="Optional PEM file to trust a private CA or self-signed server certificate.",
    ),
    SettingField(
        "inbox_every_minutes",
        "Read the inbox every (minutes)",
        kind="int",
        default=DEFAULT_INBOX_MINUTES,
        help="Takes effect after a restart.",
        minimum=1,
        maximum=24 * 60,
    ),
    SettingField(
        "stop_on_reply",
        "Stop an order's sequence when the buyer replies",
        kind="bool",
        default=True,
    ),
)


@hookimpl
def register_senders(engine):
    return [
        Sender(
            "email",
            "Email (Buyer-Seller Messaging)",
            smtp_sender.send,
            preflight=smtp_sender.preflight,
            reconcile=smtp_sender.reconcile,
            send_test=smtp_sender.send_test,
        )
    ]


def _inbox_minutes(engine) -> int:
    try:
        value = engine.plugin_setting(PLUGIN, "inbox_every_minutes", "", DEFAULT_INBOX_MINUTES)
    except Exception:  # noqa: BLE001 - before the first migration the table does not exist
        value = (
            engine.settings.section("plugin_settings")
            .get(PLUGIN, {})
            .get("inbox_every_minutes", DEFAULT_INBOX_MINUTES)
        )
    try:
        return max(1, int(value or DEFAULT_INBOX_MINUTES))
    except (TypeError, ValueError):
        log.warning("email plugin: inbox_every_minutes must be a number; using 5")
        return DEFAULT_INBOX_MINUTES


@hookimpl
def register_jobs(engine):
    return [Job("email_inbox", _inbox_minutes(engine) * 60, imap_reader.run_inbox)]


@hookimpl
def register_settings_pages(engine):
    return [
        SettingsPage(
            PLUGIN,
            "Email (Buyer-Seller Messaging)",
            FIELDS,
            description=(
                "Send through your own mail server to buyers' Amazon relay addresses, and "
                "read your inbox for buyer replies and Amazon's opt-out notices."
            ),
        )
    ]
