"""Heartbeat files: written atomically, read back with their age."""

from __future__ import annotations

import time
from pathlib import Path

from worker.lib.heartbeat import read, stamp


def test_given_a_fresh_stamp_when_read_expect_its_age_and_facts(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "worker.heartbeat"
    stamp(path, state="consuming")
    reading = read(path)
    assert reading.age_seconds is not None and reading.age_seconds < 5
    assert reading.facts["state"] == "consuming"
    assert reading.fresh(30)


def test_given_an_old_stamp_when_read_later_expect_it_stale(tmp_path: Path) -> None:
    path = tmp_path / "beat.heartbeat"
    stamp(path)
    reading = read(path, now=time.time() + 120)
    assert reading.age_seconds is not None and reading.age_seconds > 100
    assert not reading.fresh(60)


def test_given_no_file_or_a_garbled_one_expect_no_stamp(tmp_path: Path) -> None:
    assert read(tmp_path / "missing.heartbeat").age_seconds is None
    garbled = tmp_path / "garbled.heartbeat"
    garbled.write_text("{not json")
    assert not read(garbled).fresh(1e9)
    garbled.write_text("[1, 2]")
    assert read(garbled).age_seconds is None


def test_stamping_leaves_no_temporary_files_and_a_private_folder(tmp_path: Path) -> None:
    folder = tmp_path / "beats"
    for _ in range(3):
        stamp(folder / "worker.heartbeat")
    assert [p.name for p in folder.iterdir()] == ["worker.heartbeat"]
    assert folder.stat().st_mode & 0o077 == 0
