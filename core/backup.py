"""``followup backup`` and ``followup restore``: the database and the key files in one
private archive.

* SQLite is copied with SQLite's online backup API: a consistent snapshot while the web
  admin and the worker keep writing (a plain ``cp`` of a WAL database can lose the
  transactions still in the WAL, or copy a torn page).
* PostgreSQL is dumped with ``pg_dump --format=custom`` and restored with
  ``pg_restore --clean --if-exists`` (both from Debian's ``postgresql-client``).
* The key files (``[web] secret_key``, ``[security] encryption_key``) go into the same
  archive: without the encryption key the stored credentials cannot be read. A key
  given by an environment variable is not in the archive; the manifest says so and the
  command reminds you to keep it elsewhere. Keys are never printed.
* The archive is created 0600; restore moves whatever it replaces aside
  (``NAME.before-restore-TIMESTAMP``) instead of deleting it.

The queue (``queue.db`` or Redis) is not backed up: it only triggers work, and the
database is the source of truth (core/queue.py).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess  # runs pg_dump and pg_restore only  # nosec B404
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .clock import utcnow
from .files import FILE_MODE, private_dir
from .heartbeat import record_backup

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/followup.db"
PG_MEMBER = "database/followup.pgdump"
KEY_MEMBERS = {
    ("web", "secret_key"): "keys/secret_key",
    ("security", "encryption_key"): "keys/encryption_key",
}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what to fix."""


@dataclass
class Written:
    path: Path
    size: int
    keys_in_archive: list[str]
    keys_from_env: list[str]


def _secret_sources(settings) -> dict[tuple[str, str], dict]:
    """How each secret is configured: ``{"file": ...}`` or ``{"env": ...}``."""
    return {(section, key): spec for section, key, spec in settings.sources}


def _sqlite_file(settings) -> Path | None:
    url = settings.database_url
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def _pg_url(settings) -> str:
    url = settings.database_url
    return "postgresql://" + url.split("://", 1)[1]  # pg_dump does not know postgres://


def _run(cmd: list[str], what: str) -> None:
    tool = cmd[0]
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed: apt-get install postgresql-client (it must match the "
            "server's major version or be newer)."
        )
    proc = subprocess.run(cmd, capture_output=True, text=True)  # a fixed argv, no shell  # nosec B603
    if proc.returncode:
        # The URL (with its password) is an argument, never part of the message.
        raise BackupError(f"{what} failed: {proc.stderr.strip()[-500:]}")


def default_dir(settings) -> Path:
    return settings.data_dir / "backups"


def create_backup(settings, dest: Path | None = None) -> Written:
    """Write one archive into folder ``dest`` (default: data/backups); returns it."""
    folder = private_dir(Path(dest) if dest else default_dir(settings))
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"followup-backup-{stamp}.tar.gz"
    manifest: dict = {"format": FORMAT, "created_at": utcnow().isoformat() + "Z", "keys": {}}
    in_archive, from_env = [], []
    with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as tmp:
        staged: list[tuple[Path, str]] = []
        db_file = _sqlite_file(settings)
        if db_file is not None:
            copy = Path(tmp) / "followup.db"
            src = sqlite3.connect(db_file, timeout=30)
            dst = sqlite3.connect(copy)
            try:
                # In one step: one read transaction, so one consistent snapshot. In WAL
                # mode it holds no writer up; a copy in steps would restart at every
                # write the worker makes meanwhile.
                src.backup(dst)
            finally:
                src.close()
                dst.close()
            manifest["database"] = "sqlite"
            staged.append((copy, SQLITE_MEMBER))
        else:
            dump = Path(tmp) / "followup.pgdump"
            _run(
                ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _pg_url(settings)],
                "pg_dump",
            )
            manifest["database"] = "postgresql"
            staged.append((dump, PG_MEMBER))
        for (section, key), source in _secret_sources(settings).items():
            name = f"[{section}] {key}"
            if "file" in source:
                path = settings.resolve_path(source["file"])
                if path.exists():
                    staged.append((path, KEY_MEMBERS[(section, key)]))
                    manifest["keys"][key] = "file"
                    in_archive.append(name)
            elif "env" in source:
                manifest["keys"][key] = f"environment variable {source['env']}"
                from_env.append(f"{name} (${source['env']})")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), FILE_MODE, int(utcnow().timestamp())
            tar.addfile(info, io.BytesIO(data))
            for path, member in staged:
                tar.add(path, arcname=member, recursive=False, filter=_private_member)
    record_backup(target.name)
    return Written(target, target.stat().st_size, in_archive, from_env)


def _private_member(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = FILE_MODE, 0, 0, "", ""
    return info


def _aside(path: Path, stamp: str) -> Path | None:
    if not path.exists():
        return None
    moved = path.with_name(f"{path.name}.before-restore-{stamp}")
    path.rename(moved)
    return moved


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def read_archive(archive: Path) -> tuple[dict, dict[str, bytes]]:
    """The manifest and the members named in ``KEY_MEMBERS``/the database, by name;
    anything else in the archive is ignored (never extracted to a path it names)."""
    wanted = {MANIFEST, SQLITE_MEMBER, PG_MEMBER, *KEY_MEMBERS.values()}
    if not archive.is_file():
        raise BackupError(f"{archive} does not exist: give the path of a followup-backup archive.")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {
                m.name: tar.extractfile(m).read()
                for m in tar.getmembers()
                if m.name in wanted and m.isfile()
            }
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive} is not a Followup backup archive: {exc}") from exc
    if MANIFEST not in members:
        raise BackupError(f"{archive} has no {MANIFEST}: not a Followup backup archive.")
    manifest = json.loads(members.pop(MANIFEST))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: backup format {manifest.get('format')} is not supported.")
    return manifest, members


def restore_backup(settings, archive: Path, *, keys_only: bool = False) -> list[str]:
    """Put the archive's database and key files in place; returns what was done, for
    people (paths, never a key). The web admin and the worker must be stopped."""
    manifest, members = read_archive(Path(archive))
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    done: list[str] = []
    sources = _secret_sources(settings)
    for (section, key), member in KEY_MEMBERS.items():
        if member not in members:
            continue
        source = sources.get((section, key), {})
        if "file" not in source:
            done.append(f"[{section}] {key}: comes from the environment here; archive copy unused")
            continue
        path = settings.resolve_path(source["file"])
        if path.exists() and path.read_bytes() == members[member]:
            done.append(f"[{section}] {key}: {path} already holds the archived key")
            continue
        if path.parent == settings.data_dir:
            private_dir(path.parent)
        if not path.parent.is_dir():
            raise BackupError(f"folder {path.parent} does not exist: create it (mkdir -m 700).")
        moved = _aside(path, stamp)
        _write_private(path, members[member])
        done.append(
            f"[{section}] {key}: restored to {path}" + (f" (old: {moved})" if moved else "")
        )
    if keys_only:
        return done
    db_file = _sqlite_file(settings)
    if db_file is not None:
        if manifest.get("database") != "sqlite" or SQLITE_MEMBER not in members:
            raise BackupError(
                f"{archive} holds a {manifest.get('database')} database, but [database] url "
                "is SQLite here."
            )
        if not db_file.parent.is_dir():
            if db_file.parent != settings.data_dir:
                raise BackupError(f"folder {db_file.parent} does not exist: create it first.")
            private_dir(db_file.parent)
        moved = _aside(db_file, stamp)
        for suffix in ("-wal", "-shm"):  # they belong to the database moved aside
            _aside(Path(f"{db_file}{suffix}"), stamp)
        staged = db_file.with_name(f".{db_file.name}.restoring")
        staged.unlink(missing_ok=True)
        _write_private(staged, members[SQLITE_MEMBER])
        check = sqlite3.connect(staged)
        try:
            ok = check.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            check.close()
        if ok != "ok":
            staged.unlink()
            if moved:
                moved.rename(db_file)
            raise BackupError(f"{archive}: the archived database is damaged ({ok}).")
        staged.rename(db_file)
        done.append(f"database: restored to {db_file}" + (f" (old: {moved})" if moved else ""))
    else:
        if manifest.get("database") != "postgresql" or PG_MEMBER not in members:
            raise BackupError(
                f"{archive} holds a {manifest.get('database')} database, but [database] url "
                "is PostgreSQL here."
            )
        with tempfile.TemporaryDirectory() as tmp:
            dump = Path(tmp) / "followup.pgdump"
            _write_private(dump, members[PG_MEMBER])
            _run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--exit-on-error",
                    f"--dbname={_pg_url(settings)}",
                    str(dump),
                ],
                "pg_restore",
            )
        done.append("database: restored into the PostgreSQL database of [database] url")
    return done
