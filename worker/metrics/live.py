"""This process's metric objects, made on first use.

prometheus_client decides how a metric stores its values when the metric is made: in
memory, or (when PROMETHEUS_MULTIPROC_DIR is set) in a file per process in that folder, which
a scrape then adds up over every process of the tree (Celery's prefork children, uvicorn's
workers). It reads the variable once, when it is imported, so the choice is made again here,
from the variable as it is when the metrics are made: after the entry point prepared the
folder (worker.metrics.folder), whenever prometheus_client itself was imported. Nothing is
made at import time; a process whose folder changes (a test) gets a fresh set.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, values

from worker.enums import MessageKind
from worker.metrics.catalogue import MESSAGES, RECORDED, SEND_ATTEMPTS, Spec

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The outcomes counted at send time, made at zero for every kind, so that "no reminder sent
# in the last 15 minutes" is a zero Prometheus can see rather than a series that never began.
SEND_OUTCOMES = ("sent", "failed", "skipped", "ambiguous")


def multiproc_folder() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


@dataclass
class Live:
    """The metric objects of one process for one folder (None: kept in memory, in `registry`)."""

    folder: str | None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    counters: dict[str, Counter] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)

    def counter(self, spec: Spec) -> Counter:
        return self.counters[spec.name]

    def histogram(self, spec: Spec) -> Histogram:
        return self.histograms[spec.name]


_lock = threading.Lock()
_live: Live | None = None


def live() -> Live:
    """The metrics for the folder of the environment as it is now, made if need be."""
    global _live
    folder = multiproc_folder()
    current = _live
    if current is not None and current.folder == folder:
        return current
    with _lock:
        if _live is None or _live.folder != folder:
            _live = _make(folder)
        return _live


def forget() -> None:
    """Drop this process's metrics: the next use makes them again (after preparing a folder)."""
    global _live
    with _lock:
        _live = None


def _make(folder: str | None) -> Live:
    # What prometheus_client would have chosen had it been imported after the folder was set.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    # `_created` samples are Unix timestamps: useless here, and long digit runs in the text.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    made = Live(folder)
    # In multiprocess mode the values live in the folder's files; registering the objects
    # anywhere would only expose this one process's share.
    registry = None if folder else made.registry
    for spec in RECORDED:
        if spec.type == "counter":
            made.counters[spec.name] = Counter(spec.name, spec.help, spec.labels, registry=registry)
        elif spec.type == "histogram":
            made.histograms[spec.name] = Histogram(
                spec.name, spec.help, spec.labels, registry=registry, buckets=spec.buckets
            )
        else:
            raise ValueError(f"{spec.name}: only counters and histograms are recorded (gauges are scraped)")
    _start_at_zero(made)
    return made


def _start_at_zero(made: Live) -> None:
    for kind in MessageKind:
        made.counter(SEND_ATTEMPTS).labels(kind=kind.value)
        for status in SEND_OUTCOMES:
            made.counter(MESSAGES).labels(kind=kind.value, status=status)
