"""Files that hold patient data or keys: private to their owner from the first byte.

Creating a file and restricting it afterwards leaves a moment in which any local user can
open it, and a process killed in between leaves it readable for good; so the mode is given
to open(2) itself. An existing file is narrowed too: an export written over an old one must
not keep the old one's wider mode.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path`, readable and writable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), PRIVATE_MODE)
        handle.write(text)


def create_private(path: Path) -> None:
    """Create `path` empty and private unless it exists (an SQLite database before its first
    connection: SQLite gives its -wal and -shm files the database file's mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))


def readable_by_others(path: Path) -> bool:
    """True when a user other than the owner may read `path` (group or world bits)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH))
