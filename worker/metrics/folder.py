"""The multiprocess folder: prepared once by each entry point, before any child starts.

Every process of a tree (a Celery worker and its prefork children, uvicorn and its web
workers) writes its counts to files of its own in one folder, and a scrape adds them up.
The entry point makes the folder, empties it of a previous run's files (they would be
counted again) and names it in the environment, which every child inherits.

Each process tree needs a folder of its own: two trees sharing one would wipe and add up
each other's counts. The default, a fresh private temporary folder per start, is always
safe; CLINIC_METRICS_DIR is for a tmpfs or a writable volume under a read-only root.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import disable_created_metrics

from worker.metrics.live import MULTIPROC_ENV, forget
from worker.settings import Settings

PRIVATE_FOLDER_MODE = 0o700


def prepare_metrics_dir(settings: Settings) -> Path:
    """Make and empty this tree's metrics folder, and set PROMETHEUS_MULTIPROC_DIR to it."""
    if settings.metrics_dir is not None:
        folder = settings.metrics_dir
        folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="clinic-worker-metrics-"))  # private: mode 0700
        atexit.register(_remove_if_mine, folder, os.getpid())
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    disable_created_metrics()  # type: ignore[no-untyped-call]
    forget()  # anything this process recorded before now was in memory: start again in files
    return folder


def _remove_if_mine(folder: Path, owner_pid: int) -> None:
    """At the exit of the process that made it; never at a forked child's exit."""
    if os.getpid() == owner_pid:
        shutil.rmtree(folder, ignore_errors=True)
