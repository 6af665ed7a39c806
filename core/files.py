"""Private files and folders: the data folder 0700, every file Followup writes 0600.

The SQLite database holds buyers' order data and the key files unlock the seller's
Amazon credentials, so nothing under the data folder is readable by other users of the
server. SQLite creates its ``-wal`` and ``-shm`` files with the database file's mode,
so creating the database file 0600 first is enough for all three.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# The suffixes SQLite adds next to a database in WAL mode.
SQLITE_SIDE_FILES = ("-wal", "-shm")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing folder is left as is
    (``followup doctor`` reports one that others can read)."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist yet."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def sqlite_files(path: Path) -> list[Path]:
    """The database file and its WAL/SHM companions that exist now."""
    path = Path(path)
    return [p for p in (path, *(Path(f"{path}{s}") for s in SQLITE_SIDE_FILES)) if p.exists()]


def too_open(path: Path) -> str | None:
    """``"0644"`` when group or others may access ``path``, else None."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    return f"{mode:04o}" if mode & 0o077 else None
