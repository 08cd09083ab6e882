"""A sender for development and the demo: prints the SMS instead of sending it."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from worker.lib.privacy import mask_phone
from worker.sms.base import OutboundSms, ProviderMessage

_lock = threading.Lock()  # one line per SMS, even from many sending threads


class ConsoleSender:
    """Writes each SMS to a stream (stdout by default). The number is masked: console output
    usually ends up in container logs, and the body is the point of this backend."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, sms: OutboundSms) -> str:
        with _lock:
            # Random, not a counter: every prefork child and every restarted worker would
            # count from 1 again, and the stored SIDs are unique.
            sid = f"CONSOLE{uuid.uuid4().hex}"
            stream = self._stream or sys.stdout
            stream.write(f"[sms {sid} to {mask_phone(sms.to)}] {sms.body}\n")
            stream.flush()
        return sid

    def recent(self, since: datetime) -> Iterator[ProviderMessage]:
        return iter(())  # nothing was really sent, so there is nothing to reconcile

    def check(self) -> str:
        return "console backend (messages are printed, not sent)"
