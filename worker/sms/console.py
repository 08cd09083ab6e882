"""A sender for development and the demo: prints the SMS instead of sending it."""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from worker.privacy import mask_phone
from worker.sms.base import OutboundSms, ProviderMessage

_counter = itertools.count(1)
_lock = threading.Lock()


class ConsoleSender:
    """Writes each SMS to a stream (stdout by default). The number is masked: console output
    usually ends up in container logs, and the body is the point of this backend."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, sms: OutboundSms) -> str:
        with _lock:
            sid = f"CONSOLE{next(_counter):08d}"
            stream = self._stream or sys.stdout
            stream.write(f"[sms {sid} to {mask_phone(sms.to)}] {sms.body}\n")
            stream.flush()
        return sid

    def recent(self, since: datetime) -> Iterator[ProviderMessage]:
        return iter(())  # nothing was really sent, so there is nothing to reconcile

    def check(self) -> str:
        return "console backend (messages are printed, not sent)"
