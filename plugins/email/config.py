"""The email plugin's settings, read per marketplace, and its secrets.

Passwords are secrets: they come from an environment variable named in the settings
(``smtp_password_env`` / ``imap_password_env``, preferred) or from the value the settings
page stored (``smtp_password`` / ``imap_password``). They are never logged, and never put
in a reason or an error text (those are shown in the order trace).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field

PLUGIN = "email"
SECURITY = ("starttls", "tls", "none")


class ConfigProblem(Exception):
    """A setting the seller must fix; the text names the setting and never a secret."""


@dataclass(frozen=True)
class ServerConfig:
    """One mail server connection (SMTP or IMAP)."""

    kind: str  # "smtp" or "imap"
    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False, default="")
    ca_file: str = ""
    timeout: float = 60.0

    def ssl_context(self) -> ssl.SSLContext:
        """Verified TLS; ``tls_ca_file`` adds a CA (or a self-signed certificate) to trust."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context

    @property
    def identity(self) -> tuple:
        """What makes two configs the same mailbox (the password is not part of it)."""
        return (self.kind, self.host.lower(), self.port, self.username.lower())


def setting(engine, key: str, marketplace: str = "", default=None):
    return engine.plugin_setting(PLUGIN, key, marketplace, default)


def _password(engine, prefix: str, marketplace: str, fallback_prefix: str = "") -> str:
    env = (setting(engine, f"{prefix}_password_env", marketplace) or "").strip()
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigProblem(
                f"the environment variable {env} named by the email plugin's "
                f"{prefix}_password_env setting is not set"
            )
        return value
    stored = setting(engine, f"{prefix}_password", marketplace) or ""
    if not stored and fallback_prefix:
        return _password(engine, fallback_prefix, marketplace)
    return stored


def _port(engine, key: str, marketplace: str, default: int) -> int:
    value = setting(engine, key, marketplace)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise ConfigProblem(f"email plugin setting {key} must be a port number") from None


def _security(engine, key: str, marketplace: str, default: str) -> str:
    value = (setting(engine, key, marketplace) or default).strip().lower()
    if value not in SECURITY:
        raise ConfigProblem(f"email plugin setting {key} must be one of {', '.join(SECURITY)}")
    return value


def smtp_config(engine, marketplace: str = "") -> ServerConfig:
    """The SMTP server for ``marketplace``; raises ``ConfigProblem`` naming what is missing."""
    host = (setting(engine, "smtp_host", marketplace) or "").strip()
    if not host:
        raise ConfigProblem("set smtp_host on the email plugin's settings page")
    security = _security(engine, "smtp_security", marketplace, "starttls")
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    username = (setting(engine, "smtp_username", marketplace) or "").strip()
    password = _password(engine, "smtp", marketplace) if username else ""
    if username and not password:
        raise ConfigProblem("set smtp_password_env (or smtp_password) for the SMTP login")
    return ServerConfig(
        "smtp",
        host,
        _port(engine, "smtp_port", marketplace, default_port),
        security,
        username,
        password,
        (setting(engine, "tls_ca_file", marketplace) or "").strip(),
        float(setting(engine, "smtp_timeout", marketplace) or 60),
    )


def imap_config(engine, marketplace: str = "") -> ServerConfig | None:
    """The IMAP server for ``marketplace``, or None when no inbox is configured.

    The IMAP login defaults to the SMTP one: most providers use the same account.
    """
    host = (setting(engine, "imap_host", marketplace) or "").strip()
    if not host:
        return None
    security = _security(engine, "imap_security", marketplace, "tls")
    default_port = {"starttls": 143, "tls": 993, "none": 143}[security]
    username = (setting(engine, "imap_username", marketplace) or "").strip()
    if username:
        password = _password(engine, "imap", marketplace, fallback_prefix="smtp")
    else:
        username = (setting(engine, "smtp_username", marketplace) or "").strip()
        password = _password(engine, "smtp", marketplace) if username else ""
    if not username or not password:
        raise ConfigProblem("set imap_username and imap_password_env (or imap_password)")
    return ServerConfig(
        "imap",
        host,
        _port(engine, "imap_port", marketplace, default_port),
        security,
        username,
        password,
        (setting(engine, "tls_ca_file", marketplace) or "").strip(),
        float(setting(engine, "imap_timeout", marketplace) or 60),
    )


def from_address(engine, marketplace: str = "") -> str:
    """The seller's email address registered with Amazon (the only one Amazon relays)."""
    value = (setting(engine, "from_address", marketplace) or "").strip()
    if not value or "@" not in value:
        raise ConfigProblem(
            "set from_address to the email address registered in Seller Central "
            "(Amazon relays mail only from it)"
        )
    return value
