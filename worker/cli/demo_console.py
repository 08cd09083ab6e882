"""The demo's console: each text the console SMS backend prints, led by its local send time.

The console backend writes one line per text (`[sms SID to +1******0143] body`) to standard
output as a worker thread sends it. The demo reads its own output line by line and puts the
clinic's wall-clock time in front of those lines, so a reader sees when each text went out
(`2026-12-03 10:02 EST  [sms ...] ...`); every other line passes through unchanged.
"""

from __future__ import annotations

import io
import threading
from typing import TextIO
from zoneinfo import ZoneInfo

from worker.db.models import utcnow
from worker.lib.localtime import show

SMS_LINE = "[sms "


class StampedConsole(io.TextIOBase):
    """A text stream over `target` that stamps each SMS line with the time it was written."""

    def __init__(self, target: TextIO, zone: ZoneInfo) -> None:
        super().__init__()
        self._target = target
        self._zone = zone
        self._pending = ""
        self._lock = threading.Lock()  # sending threads and the demo's own lines interleave
        self.texts = 0  # SMS lines seen so far

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._pending + text).split("\n")
            self._pending = lines.pop()
            for line in lines:
                self._target.write(self._stamped(line) + "\n")
            self._target.flush()
        return len(text)

    def _stamped(self, line: str) -> str:
        if not line.startswith(SMS_LINE):
            return line
        self.texts += 1
        return f"{show(utcnow(), self._zone)}  {line}"

    def flush(self) -> None:
        # A part line stays pending: it is stamped (or not) once its end arrives.
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", None) or "utf-8"

    def writable(self) -> bool:
        return True
