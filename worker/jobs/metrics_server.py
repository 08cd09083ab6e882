"""Each worker's metrics on CLINIC_METRICS_PORT: served by the worker's main process.

Celery's prefork children record into the multiprocess folder the entry point prepared
(worker.metrics.folder); the main process adds their files up at each scrape. It starts the
server on `worker_init`, which Celery sends in the main process before the pool forks, so
there is one server per worker whatever its concurrency. A worker started by the plain
`celery` command, without the entry point, gets its folder prepared here, in time for the
children to inherit it.

No multiprocess gauges are used (the gauges are computed by the web server at scrape
time), so a child that exits leaves nothing to clean up: its counters keep counting in the
total, as counters should, and `mark_process_dead` has nothing to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIServer

from celery.signals import worker_init
from prometheus_client import start_http_server

from worker.metrics.folder import prepare_metrics_dir
from worker.metrics.live import multiproc_folder
from worker.metrics.scrape import scrape_registry
from worker.settings import Settings

log = logging.getLogger(__name__)

# Every interface: Prometheus scrapes the worker's container from outside it. The port
# carries no PHI, but keep it on the internal network (docs/monitoring/README.md).
LISTEN_ADDRESS = "0.0.0.0"  # noqa: S104
_DISPATCH_UID = "clinic-worker.metrics-server"
_servers: dict[int, WSGIServer] = {}


def install_metrics_server(settings_of_app: Callable[[], Settings]) -> None:
    """Serve metrics from each worker that starts in this process; connecting twice is once."""

    def on_worker_init(**_: Any) -> None:
        serve_worker_metrics(settings_of_app())

    worker_init.connect(on_worker_init, weak=False, dispatch_uid=_DISPATCH_UID)


def serve_worker_metrics(settings: Settings) -> WSGIServer | None:
    """Start serving /metrics on settings.metrics_port (none when unset); once per port.

    A port that cannot be bound is logged, not fatal: the worker's texts matter more than
    its metrics."""
    port = settings.metrics_port
    if port is None:
        return None
    if port in _servers:
        return _servers[port]
    if multiproc_folder() is None:
        prepare_metrics_dir(settings)
    try:
        server, _thread = start_http_server(port, addr=LISTEN_ADDRESS, registry=scrape_registry())
    except OSError as exc:
        log.error("metrics not served: the port cannot be bound", extra={"port": port, "error": str(exc)})
        return None
    _servers[port] = server
    log.info("metrics served", extra={"port": port, "path": "/metrics"})
    return server


def stop_worker_metrics() -> None:
    """Stop every server this process started (tests)."""
    for port in list(_servers):
        server = _servers.pop(port)
        server.shutdown()
        server.server_close()
