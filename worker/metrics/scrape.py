"""Reading the metrics back for a scrape: the web server's /metrics and each worker's port.

In multiprocess mode the values are read from every process's files in the folder (a
MultiProcessCollector made at each scrape, so a folder prepared later is still found);
otherwise from this process's own registry. Extra collectors (the web server's database
and Redis gauges) join them.

Values are written rounded to the millisecond, and `_created` samples are dropped: a sum of
float seconds prints with seventeen significant digits and a `_created` sample is a Unix
time, and such digit runs look like phone numbers to anyone checking that no metric carries
one (and hide a real one among them). No dashboard needs more than a millisecond.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from worker.metrics.live import live, multiproc_folder

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
DECIMALS = 3  # milliseconds, for values in seconds


class _Readable(Collector):
    def __init__(self, extra: Sequence[Collector]) -> None:
        self._extra = tuple(extra)

    def collect(self) -> Iterable[Metric]:
        for source in (*_recorded(), *self._extra):
            for metric in source.collect():
                yield _tidy(metric)


def _recorded() -> tuple[Collector, ...]:
    folder = multiproc_folder()
    if folder is not None:
        return (MultiProcessCollector(None, path=folder),)  # type: ignore[no-untyped-call]
    return (live().registry,)


def _tidy(metric: Metric) -> Metric:
    metric.samples = [
        sample._replace(value=round(sample.value, DECIMALS))
        for sample in metric.samples
        if not sample.name.endswith("_created")
    ]
    return metric


def scrape_registry(*extra: Collector) -> CollectorRegistry:
    """A registry that reads this tree's recorded metrics, and `extra`, at each scrape."""
    # Not auto-described: registering must not run a scrape (and its database queries).
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Readable(extra))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition format (CONTENT_TYPE) of everything `registry` reads now."""
    return generate_latest(registry)
