"""Recording and reading back metrics: across real processes through the multiprocess
folder, in memory when no folder was prepared, and never at the cost of the caller."""

from __future__ import annotations

import logging
import multiprocessing
import os
import stat
import tempfile
from pathlib import Path

import pytest

from tests.metrics.scraped import LONG_DIGITS, names, samples, value
from worker.metrics import record
from worker.metrics.catalogue import RECORDED, exposed_names
from worker.metrics.folder import prepare_metrics_dir
from worker.metrics.live import MULTIPROC_ENV
from worker.metrics.scrape import render, scrape_registry
from worker.settings import Settings, load_settings


def _settings(folder: Path | None) -> Settings:
    return load_settings(database_url="sqlite:///unused.sqlite3", metrics_dir=folder)


def _scrape() -> str:
    return render(scrape_registry()).decode()


def _send_reminders(count: int, lateness_seconds: float) -> None:
    """In a child process: what a prefork child does when it sends `count` reminders."""
    for _ in range(count):
        record.record_send_attempt("reminder")
        record.record_sent("reminder", lateness_seconds)


def test_given_two_processes_recording_into_the_prepared_folder_when_scraped_once_expect_their_sums(
    tmp_path: Path,
) -> None:
    folder = prepare_metrics_dir(_settings(tmp_path / "metrics"))
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters that inherit only the environment
    children = [spawn.Process(target=_send_reminders, args=(n, 2.5)) for n in (3, 4)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0

    found = samples(_scrape())
    assert value(found, "clinic_messages_total", kind="reminder", status="sent") == 7
    assert value(found, "clinic_send_attempts_total", kind="reminder") == 7
    assert value(found, "clinic_send_lateness_seconds_count", kind="reminder") == 7
    assert value(found, "clinic_send_lateness_seconds_sum", kind="reminder") == 17.5
    assert value(found, "clinic_send_lateness_seconds_bucket", kind="reminder", le="5.0") == 7
    assert value(found, "clinic_send_lateness_seconds_bucket", kind="reminder", le="1.0") == 0
    assert len(list(folder.glob("counter_*.db"))) == 2  # one file per process


def test_given_prometheus_client_imported_before_the_folder_when_recording_expect_the_folder_files(
    tmp_path: Path,
) -> None:
    # prometheus_client was imported when this module was: before any folder was set.
    folder = prepare_metrics_dir(_settings(tmp_path / "metrics"))
    record.record_claims(5)
    pid = os.getpid()
    assert sorted(p.name for p in folder.glob("*.db")) == [f"counter_{pid}.db", f"histogram_{pid}.db"]
    assert value(samples(_scrape()), "clinic_claims_total") == 5


def test_given_stale_files_of_a_previous_run_when_prepared_expect_them_gone_and_the_folder_named(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_12345.db").write_bytes(b"old counts")
    (folder / "notes.txt").write_text("not ours")
    prepared = prepare_metrics_dir(_settings(folder))
    assert prepared == folder and os.environ[MULTIPROC_ENV] == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_given_no_metrics_dir_when_prepared_expect_a_fresh_private_temporary_folder() -> None:
    first = prepare_metrics_dir(_settings(None))
    second = prepare_metrics_dir(_settings(None))
    assert first != second
    for folder in (first, second):
        assert folder.parent == Path(tempfile.gettempdir())
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_given_no_folder_prepared_when_recording_expect_the_process_own_registry_to_count() -> None:
    assert MULTIPROC_ENV not in os.environ
    record.record_inbound("confirm")
    record.record_inbound("confirm")
    record.record_outcome("checkin", "failed")
    record.record_outcome("checkin", "queued")  # a step on the way, not an outcome
    found = samples(_scrape())
    assert value(found, "clinic_inbound_texts_total", intent="confirm") == 2
    assert value(found, "clinic_messages_total", kind="checkin", status="failed") == 1
    assert value(found, "clinic_messages_total", kind="checkin", status="queued") is None


def test_given_a_folder_that_cannot_be_written_when_recording_expect_no_error_and_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.environ[MULTIPROC_ENV] = str(tmp_path / "never-made")
    with caplog.at_level(logging.WARNING, logger="worker.metrics.record"):
        record.record_claims(1)
        record.record_claims(1)
    assert [r.getMessage() for r in caplog.records] == ["metric not recorded"]


def test_given_a_phone_number_or_a_text_as_a_label_when_recorded_expect_other_instead() -> None:
    record.record_provider_error("+12025550143")
    record.record_provider_error("2025550143")
    record.record_inbound("please call me back")
    record.record_provider_error("21610")
    text = _scrape()
    found = samples(text)
    assert value(found, "clinic_provider_errors_total", code="other") == 2
    assert value(found, "clinic_provider_errors_total", code="21610") == 1
    assert value(found, "clinic_inbound_texts_total", intent="other") == 1
    assert "2025550143" not in text


def test_given_fractional_seconds_when_rendered_expect_no_long_digit_runs_and_no_created_samples() -> None:
    for seconds in (0.1, 0.2, 1 / 3, 2.000001):
        record.observe_provider_latency(seconds)
    text = _scrape()
    assert value(samples(text), "clinic_provider_latency_seconds_sum") == 2.633
    assert [line for line in text.splitlines() if LONG_DIGITS.search(line)] == []
    assert "_created" not in text


def test_given_a_fresh_process_when_scraped_expect_every_recorded_metric_by_its_fixed_name() -> None:
    record.record_claims(1)  # every metric is made with the first record; unlabelled ones show at once
    found = names(samples(_scrape()))
    for spec in RECORDED:
        if not spec.labels:
            assert set(spec.exposed()) <= found, spec.name
    assert {"clinic_messages_total", "clinic_send_attempts_total"} <= found  # at zero from the start
    assert found <= exposed_names()
