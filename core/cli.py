"""The ``followup`` command. Its output is for people, so it prints; the rest logs.

Every subcommand loads config.toml first, so a bad config stops here with the message
naming the key. ``followup web`` and ``followup run`` start the web admin in its own
process (``python -m web``): the core never imports the web package.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import subprocess  # starts our own web and worker processes only  # nosec B404
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from .backup import BackupError, create_backup, restore_backup
from .config import ConfigError, Settings, load_settings
from .demo import load_demo
from .dispatch import dispatch_due
from .doctor import run_checks
from .engine import Engine
from .files import private_dir
from .heartbeat import WORKER_STALE, last_worker
from .importer import OrderImportError, import_orders
from .ingest import ingest_from_source
from .logs import configure_from_settings, configure_logging
from .models import Heartbeat, Order, SellerAccount
from .order_trace import find_orders, trace_order
from .planning import plan_all, plan_orders
from .runtime_settings import timezone
from .trace_text import trace_text
from .users import UserError, add_user, ensure_first_admin
from .worker import run_worker

log = logging.getLogger("followup")


def _settings(args) -> Settings:
    settings = load_settings(args.config)
    configure_from_settings(settings)  # [app] log_level for every subcommand
    return settings


def _engine(args, *, migrate: bool = True):
    engine = Engine(_settings(args))
    if migrate:
        engine.migrate()
    return engine


def cmd_init(args) -> int:
    """Create data/, apply migrations, create the first admin."""
    private_dir(_settings(args).data_dir)
    engine = _engine(args, migrate=False)
    applied = engine.migrate()
    for name in applied:
        print(f"applied migration {name}")
    password = ensure_first_admin()
    if password:
        print("\n  First admin login created.")
        print("    username: admin")
        print(f"    one-time password: {password}")
        print("  You will be asked to choose a new password at first login.\n")
    return 0


def cmd_run(args) -> int:
    """init, then the web admin and the worker together; Ctrl-C stops both."""
    rc = cmd_init(args)
    if rc:
        return rc
    settings = _settings(args)
    env = dict(os.environ, FOLLOWUP_CONFIG=str(settings.path))
    procs = [
        # A fixed argument list (this Python, our own modules), no shell.
        subprocess.Popen([sys.executable, "-m", "web"], env=env),  # nosec B603
        subprocess.Popen([sys.executable, "-m", "core.worker"], env=env),  # nosec B603
    ]
    url = f"http://{settings.get('web', 'host')}:{settings.get('web', 'port')}"
    print(f"Followup is running at {url}  (Ctrl-C stops it)")
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.2)
    finally:
        # SIGINT lets the huey consumer finish running tasks; queued ones stay in the
        # queue file and run at the next start.
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    failed = [p.returncode for p in procs if p.returncode not in (0, -2, 130, None)]
    return 0 if stopping or not failed else 1


def cmd_web(args) -> int:
    """Serve the web admin (replaces this process with ``python -m web``)."""
    _settings(args)  # fail here, with the key named, if the config is bad
    os.environ["FOLLOWUP_CONFIG"] = str(_settings(args).path)
    os.execv(sys.executable, [sys.executable, "-m", "web"])  # fixed arguments  # nosec B606
    return 0  # pragma: no cover


def cmd_worker(args) -> int:
    """Run the huey consumer: dispatch, sync and plugin jobs."""
    return run_worker(_settings(args))


def cmd_sync(args) -> int:
    """Sync orders now for one account (or all), then plan the changed orders."""
    engine = _engine(args)
    accounts = SellerAccount.select()
    if args.account:
        accounts = accounts.where(
            (SellerAccount.name == args.account) | (SellerAccount.id == _int(args.account))
        )
    rc = 0
    for account in accounts:
        ingested = ingest_from_source(engine, account.id, full=args.full)
        result, planned = ingested.stored, ingested.planned
        account = SellerAccount.get_by_id(account.id)
        print(
            f"{account.name}: {result.created} new, {result.updated} updated, "
            f"{planned.planned} messages planned — {account.status}: {account.status_message}"
        )
        rc = rc or (1 if account.status == "error" else 0)
    return rc


def _int(value: str) -> int:
    return int(value) if value.isdigit() else -1


def cmd_plan(args) -> int:
    """Plan messages: for changed orders (--order) or every order (--all)."""
    engine = _engine(args)
    if args.order:
        ids = [o.id for o in Order.select().where(Order.order_id.in_(args.order))]
        result = plan_orders(engine, ids)
    else:
        result = plan_all(engine)
    print(
        f"planned {result.planned}, updated {result.updated}, waiting {result.waiting}, "
        f"excluded {result.excluded}"
    )
    return 0


def cmd_dispatch(args) -> int:
    """Send due messages now."""
    result = dispatch_due(_engine(args))
    states = ", ".join(f"{k} {v}" for k, v in sorted(result.states.items())) or "nothing due"
    print(f"claimed {result.claimed}: {states}; recovered {result.recovered}")
    return 0


def cmd_doctor(args) -> int:
    """Check config, database, queue, credentials and clock; say what to fix."""
    problems = 0
    for ok, name, detail in run_checks(args.config):
        print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}")
        problems += 0 if ok else 1
    print("all checks passed" if not problems else f"{problems} problem(s) to fix")
    return 1 if problems else 0


def cmd_backup(args) -> int:
    """Write the database and the key files into one private archive (0600)."""
    _engine(args)  # the heartbeat table records the backup for doctor and /metrics
    try:
        written = create_backup(_settings(args), Path(args.to) if args.to else None)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"backup written: {written.path} ({written.size:,} bytes)")
    if written.keys_in_archive:
        print(f"  includes the key files of {', '.join(written.keys_in_archive)}")
    for name in written.keys_from_env:
        print(f"  not included: {name} comes from the environment; keep a copy elsewhere")
    if written.keys_in_archive:
        print("  Keep the archive somewhere safe: it holds the key to the stored credentials.")
    return 0


def cmd_restore(args) -> int:
    """Restore a backup archive (stop the web admin and the worker first)."""
    settings = load_settings(args.config, create=False)  # no new key before the restore
    configure_from_settings(settings)
    if not args.force:
        running = _worker_alive(settings)
        if running:
            print(
                f"error: a worker is running ({running}). Stop it and the web admin first "
                "(systemctl stop followup-web followup-worker), or pass --force.",
                file=sys.stderr,
            )
            return 2
    try:
        done = restore_backup(settings, Path(args.archive), keys_only=args.keys_only)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in done:
        print(line)
    if not args.keys_only:
        print("Run 'followup init' to apply any newer migrations, then start the services.")
    return 0


def _worker_alive(settings) -> str:
    """ "host, pid N" of a worker that beat within the last minutes, else ""."""
    db_file = settings.database_url[len("sqlite:///") :]
    if settings.database_url.startswith("sqlite:///") and not Path(db_file).exists():
        return ""
    try:
        engine = Engine(settings)
        try:
            if not engine.db.table_exists(Heartbeat._meta.table_name):
                return ""
            seen = last_worker()
        finally:
            engine.close()
    except Exception:  # noqa: BLE001 - a broken database is what a restore repairs
        return ""
    return seen.detail if seen and seen.age() < WORKER_STALE else ""


def cmd_user_add(args) -> int:
    """Add a login (prompts for the password, or reads it from stdin)."""
    _engine(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
    try:
        add_user(args.username, password, args.role, must_change=not args.no_change)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.username} ({args.role}) added")
    return 0


def cmd_import_orders(args) -> int:
    """Import Seller Central's All Orders report (tab-separated) into an account."""
    engine = _engine(args)
    try:
        summary = import_orders(engine, Path(args.file), args.account, args.source)
    except OrderImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary)
    return 0


def cmd_demo(args) -> int:
    """Load demo data: a demo seller, a few hundred orders, one dry-run campaign."""
    counts = load_demo(_engine(args))
    print(
        f"demo data loaded: {counts['orders']} orders, {counts['planned']} messages planned, "
        f"{counts['dispatched']} dispatched through the dry-run sender"
    )
    return 0


def cmd_trace(args) -> int:
    """Print an order's trace: its facts, timeline, the campaign steps that looked at it
    and why, and each message with its state and reason, in the seller's time zone."""
    engine = _engine(args)
    orders = find_orders(args.order_id)
    if not orders:
        print(f"error: no order {args.order_id!r} is stored (check the id)", file=sys.stderr)
        return 1
    tz = ZoneInfo(timezone(engine))
    # An order id is unique per seller account: two accounts may both hold it.
    print("\n\n".join(trace_text(trace_order(engine, order, tz)) for order in orders))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="followup",
        description="Followup: self-hosted automation of Amazon post-order buyer messages.",
    )
    parser.add_argument("--config", help="config file (default: $FOLLOWUP_CONFIG or config.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=func.__doc__)
        p.set_defaults(func=func)
        return p

    add("init", cmd_init, "create data/, migrate, create the first admin")
    add("run", cmd_run, "init, then serve the web admin and run the worker")
    add("web", cmd_web, "serve the web admin only")
    add("worker", cmd_worker, "run the background worker only")
    p = add("sync", cmd_sync, "sync orders now")
    p.add_argument("--account", help="account name or id (default: all)")
    p.add_argument("--full", action="store_true", help="ignore the cursor, read everything")
    p = add("plan", cmd_plan, "plan messages")
    p.add_argument("--order", action="append", help="an order id (repeatable); default: all")
    add("dispatch", cmd_dispatch, "send due messages now")
    add("doctor", cmd_doctor, "check the installation and say what to fix")
    p = add("backup", cmd_backup, "back up the database and the key files into one archive")
    p.add_argument("--to", help="folder for the archive (default: DATA_DIR/backups)")
    p = add("restore", cmd_restore, "restore a backup archive (services stopped)")
    p.add_argument("archive", help="a followup-backup-*.tar.gz archive")
    p.add_argument("--keys-only", action="store_true", help="restore only the key files")
    p.add_argument("--force", action="store_true", help="even if a worker seems to be running")
    p = add("user", cmd_user_add, "manage logins")
    user_sub = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    ua = user_sub.add_parser("add", help="add a login", description=cmd_user_add.__doc__)
    ua.add_argument("username")
    ua.add_argument("--role", default="editor", choices=("admin", "editor", "viewer"))
    ua.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    ua.add_argument("--no-change", action="store_true", help="do not force a change at login")
    ua.set_defaults(func=cmd_user_add)
    p = add("import-orders", cmd_import_orders, "import an All Orders report file")
    p.add_argument("file", help="tab-separated All Orders report from Seller Central")
    p.add_argument("--account", default="Imported orders", help="account name (created if new)")
    p.add_argument("--source", default="amazon", help="order source that parses the file")
    add("demo", cmd_demo, "load demo data")
    p = add("trace", cmd_trace, "show an order's trace: why each message was (not) sent")
    p.add_argument(
        "order_id", metavar="ORDER_ID", help="Amazon's order id, e.g. 302-1234567-1234567"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Everything Followup writes (databases, keys, backups, uploads) is private to its
    # user; see core/files.py. Until the config is read, only warnings are logged.
    os.umask(0o077)
    configure_logging("WARNING")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
