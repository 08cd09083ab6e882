"""The database, its WAL, the development keys and exports are private (0600) from the first
byte, whatever the umask; `doctor` names a database or key file other users can read."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from worker.lib.crypto import DEV_INDEX_KEY_FILE, DEV_KEY_FILE
from worker.lib.files import readable_by_others, write_private


@pytest.fixture
def open_umask() -> Iterator[None]:
    # Given the usual umask, under which a plainly created file is readable by everyone
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env.update(
        CLINIC_DATABASE_URL=f"sqlite:///{folder / 'clinic.sqlite3'}",
        CLINIC_SMS_BACKEND="console",
        CLINIC_REDIS_URL="memory://",
        CLINIC_CLINIC_PHONE="+12025550111",
    )
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_wal_and_development_keys_are_created_private(tmp_path: Path, open_umask: None) -> None:
    # When a new clinic creates its database and adds a patient with development keys
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    added = _run(tmp_path, "patients", "add", "--name", "Ana Example", "--phone", "+12025550143")
    assert added.returncode == 0, added.stderr
    # Expect every file that holds PHI or a key to be 0600
    files = [tmp_path / "clinic.sqlite3", tmp_path / DEV_KEY_FILE, tmp_path / DEV_INDEX_KEY_FILE]
    # The WAL exists while a process has the database open (the last to close removes it):
    # hold a connection open and write, as a running worker does.
    with closing(sqlite3.connect(tmp_path / "clinic.sqlite3")) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("UPDATE patients SET timezone = timezone")
        connection.commit()
        files += list(tmp_path.glob("clinic.sqlite3-*"))
        assert len(files) == 5  # -wal and -shm
        assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_an_export_is_private_even_over_a_readable_file(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "results.csv"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "patient_id,score\n")
    assert _mode(target) == 0o600 and target.read_text() == "patient_id,score\n"


def test_doctor_names_a_database_file_other_users_can_read(tmp_path: Path, open_umask: None) -> None:
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    report = json.loads(_run(tmp_path, "doctor", "--json").stdout)
    assert report["files"]["ok"] is True
    database = tmp_path / "clinic.sqlite3"
    database.chmod(0o644)  # given: a copy restored with the wrong mode
    result = _run(tmp_path, "doctor", "--json")
    assert result.returncode == 1
    assert report != (files := json.loads(result.stdout)["files"])
    assert files["ok"] is False and str(database) in files["detail"] and "chmod 600" in files["detail"]
    assert readable_by_others(database)
