"""Real mail servers on 127.0.0.1 for the email plugin's tests.

* ``SmtpServer``: aiosmtpd with STARTTLS (a self-signed certificate made with
  ``cryptography``) and AUTH LOGIN/PLAIN required, recording what it accepts. Some
  recipients are refused with 451 / 550, one makes DATA hang (for the in-doubt case).
* ``Dovecot``: Debian's dovecot started from a temporary config (``dovecot -F -c``),
  plain IMAP with PLAIN/LOGIN auth against a passwd-file of one user, Maildir storage.
  Test mail is delivered with IMAP APPEND, as a mail server would.

If dovecot is not installed the IMAP tests skip, except in CI (``CI`` set) where they
fail: ``scripts/ensure-dovecot`` installs it there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SMTP_USER = "seller@example.com"
SMTP_PASSWORD = "smtp-secret-1"
IMAP_USER = "seller"
IMAP_PASSWORD = "imap-secret-1"

TEMPFAIL_PREFIX = "tempfail"  # 451 at RCPT
REJECT_PREFIX = "reject"  # 550 at RCPT
SLOW_PREFIX = "slow"  # DATA answered only after SLOW_SECONDS
SLOW_SECONDS = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1; returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# -- SMTP -----------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith(TEMPFAIL_PREFIX):
            return "451 4.3.0 Temporary failure, try again later"
        if local.startswith(REJECT_PREFIX):
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.lower().startswith(SLOW_PREFIX) for r in envelope.rcpt_tos):
            await asyncio.sleep(SLOW_SECONDS)
        login = session.auth_data.decode() if session.authenticated else ""
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
        )
        return "250 2.0.0 Message accepted"


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    # handled=False: aiosmtpd answers "535" itself (with the default it would stay silent).
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS and AUTH (LOGIN or PLAIN)."""

    def __init__(self, folder: Path):
        from aiosmtpd.controller import Controller

        self.cert, key = make_certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=_authenticator,
        )

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


# -- IMAP (Dovecot) ---------------------------------------------------------------------


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )


def require_dovecot() -> str:
    binary = dovecot_binary()
    if binary is None:
        message = "dovecot is not installed (scripts/ensure-dovecot installs dovecot-imapd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
mail_location = maildir:{root}/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    auto = create
    special_use = \\Sent
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


class Dovecot:
    """A private dovecot process serving one mailbox on 127.0.0.1."""

    def __init__(self, binary: str):
        self.binary = binary
        self.port = free_port()
        # Dovecot refuses mail access as root, and its helper processes must reach the
        # sockets: as root the mailbox belongs to "nobody" in a world-traversable folder.
        self.root = Path(tempfile.mkdtemp(prefix="followup-dovecot-"))
        os.chmod(self.root, 0o755)
        self.process: subprocess.Popen | None = None

    def _config(self) -> str:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("nobody")
            uid, gid = owner.pw_uid, owner.pw_gid
            internal = "dovecot" if _user_exists("dovecot") else "nobody"
            login = "dovenull" if _user_exists("dovenull") else "nobody"
            internal_group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
        else:
            uid, gid = os.getuid(), os.getgid()
            internal = login = getpass.getuser()
            internal_group = grp.getgrgid(gid).gr_name
        for sub in ("run", "state", "Maildir", "home"):
            (self.root / sub).mkdir(exist_ok=True)
        for sub in ("Maildir", "home"):
            os.chown(self.root / sub, uid, gid)
        (self.root / "users").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n")
        return CONFIG.format(
            root=self.root,
            port=self.port,
            uid=uid,
            gid=gid,
            internal_user=internal,
            internal_group=internal_group,
            login_user=login,
        )

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> Dovecot:
        conf = self.root / "dovecot.conf"
        conf.write_text(self._config())
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode(errors="replace")
                raise RuntimeError(f"dovecot exited: {output}\n{self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def imap(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(IMAP_USER, IMAP_PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a mail into ``folder`` (IMAP APPEND, as a delivery agent would)."""
        client = self.imap()
        try:
            typ, data = client.append(f'"{folder}"', None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def clear(self, folder: str = "INBOX") -> None:
        client = self.imap()
        try:
            client.select(f'"{folder}"')
            client.store("1:*", "+FLAGS", r"(\Deleted)")
            client.expunge()
        except imaplib.IMAP4.error:
            pass  # empty folder: nothing to delete
        finally:
            client.logout()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
