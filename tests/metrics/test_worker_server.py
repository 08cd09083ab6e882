"""The worker's metrics port: served once per port from the worker's main process, over the
multiprocess folder; a port that cannot be bound costs the metrics, never the worker."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import httpx
import pytest
from celery.signals import worker_init

from tests.conftest import free_port
from tests.metrics.scraped import samples, value
from worker.jobs import metrics_server
from worker.jobs.metrics_server import install_metrics_server, serve_worker_metrics
from worker.metrics import record
from worker.metrics.live import MULTIPROC_ENV
from worker.settings import Settings, load_settings


def _settings(tmp_path: Path, port: int | None) -> Settings:
    return load_settings(
        database_url="sqlite:///unused.sqlite3", metrics_dir=tmp_path / "metrics", metrics_port=port
    )


def test_given_a_port_when_served_expect_the_folder_prepared_and_its_counts_on_slash_metrics(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = serve_worker_metrics(_settings(tmp_path, port))
    assert server is not None
    assert serve_worker_metrics(_settings(tmp_path, port)) is server  # once per port
    assert os.environ[MULTIPROC_ENV] == str(tmp_path / "metrics")
    record.record_claims(3)  # as a prefork child would, into the folder
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert value(samples(response.text), "clinic_claims_total") == 3


def test_given_no_port_when_served_expect_nothing_started(tmp_path: Path) -> None:
    assert serve_worker_metrics(_settings(tmp_path, None)) is None


def test_given_a_port_taken_when_served_expect_a_logged_error_and_no_exception(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # the address the server would take
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger=metrics_server.__name__):
            assert serve_worker_metrics(_settings(tmp_path, port)) is None
    assert [r.getMessage() for r in caplog.records] == ["metrics not served: the port cannot be bound"]


def test_given_the_server_installed_twice_when_a_worker_starts_expect_one_receiver() -> None:
    install_metrics_server(lambda: load_settings(database_url="sqlite:///unused.sqlite3"))
    install_metrics_server(lambda: load_settings(database_url="sqlite:///unused.sqlite3"))
    uids = [key for key, _ in worker_init.receivers if key[0] == "clinic-worker.metrics-server"]
    assert len(uids) == 1
