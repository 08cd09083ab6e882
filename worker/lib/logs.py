"""Logging set up by each entry point: readable in a terminal, JSON lines otherwise.

Log calls pass ids in `extra`, never names, numbers or message text.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# `color_message` is uvicorn's copy of its message with ANSI colour codes, meant for its own
# terminal formatter: in a JSON line or a log file it is noise the message already says.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
# Celery beat logs each scheduled task it sends at INFO: with a dispatcher every few seconds
# that is hundreds of lines an hour saying nothing. The worker's summary says what was done.
_ROUTINE_BEAT = "Scheduler: Sending due task"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extra = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        return f"{line} {extra}".rstrip()


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The twilio client logs request URLs and form fields (numbers, bodies) at INFO.
    logging.getLogger("twilio").setLevel(logging.WARNING)
    if root.level > logging.DEBUG:
        # Celery logs every task received and finished: with a dispatcher every few seconds
        # that drowns our own lines ("message sent", the dispatch summary), which carry the ids.
        for name in ("celery.worker.strategy", "celery.app.trace"):
            logging.getLogger(name).setLevel(logging.WARNING)
    beat = logging.getLogger("celery.beat")
    if not any(isinstance(f, RoutineBeatLines) for f in beat.filters):
        beat.addFilter(RoutineBeatLines())


class RoutineBeatLines(logging.Filter):
    """Beat's "Sending due task" lines, moved from INFO to DEBUG (kept only when DEBUG is on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not str(record.msg).startswith(_ROUTINE_BEAT):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


class Summary:
    """Counts of a routine job, logged at INFO at most once per `every` seconds (when there
    is something to count) instead of a line per run; each run is logged at DEBUG by its caller.

    Per process: each worker process sums the runs it did itself.
    """

    def __init__(
        self,
        logger: logging.Logger,
        message: str,
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.message, self.every, self.clock = logger, message, every, clock
        self.counts: dict[str, int] = {}
        self.runs = 0
        self.since = clock()

    def add(self, **counts: int) -> None:
        self.runs += 1
        for name, value in counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        elapsed = self.clock() - self.since
        if elapsed < self.every:
            return
        level = logging.INFO if any(self.counts.values()) else logging.DEBUG
        self.logger.log(
            level, self.message, extra={**self.counts, "runs": self.runs, "seconds": round(elapsed)}
        )
        self.counts, self.runs, self.since = {}, 0, self.clock()
