"""Each metrics test starts with no multiprocess folder and no metrics made in this process,
and leaves none behind."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from worker.jobs.metrics_server import stop_worker_metrics
from worker.metrics.live import MULTIPROC_ENV, forget


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[None]:
    before = os.environ.pop(MULTIPROC_ENV, None)
    forget()
    yield
    stop_worker_metrics()
    os.environ.pop(MULTIPROC_ENV, None)
    if before is not None:
        os.environ[MULTIPROC_ENV] = before
    forget()
