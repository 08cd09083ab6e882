"""Group commit for inbound texts: one writer thread per web process stores the texts that
arrived while it was committing the previous ones, in one transaction, and only then lets
their requests answer.

Why: every text must be committed before Twilio gets its 200, and a commit per request
(with its connection checkout, ping, BEGIN, INSERT and COMMIT round trips, and a thread
each) cost more CPU than everything else the webhook does. Batching needs no timer: while
one batch commits the next one gathers, so a lone text waits for nothing but its own
commit, and under load one commit covers many texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from worker.db.engine import transaction, unavailable
from worker.db.models import utcnow
from worker.runtime import Runtime
from worker.screening import Stored, store_and_screen_many

log = logging.getLogger(__name__)

Form = Mapping[str, Sequence[str]]
MAX_BATCH = 100  # one multi-row INSERT; bounded so that one commit stays short


@dataclass
class _Pending:
    form: Form
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Stored]


class Inbox:
    """Stores inbound texts for the webhook; `await store(form)` returns once it is committed."""

    def __init__(self, rt: Runtime, source: str = "webhook") -> None:
        self._rt = rt
        self._source = source
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def store(self, form: Form) -> Stored:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._start()
        self._queue.put(_Pending(form, loop, future))
        return await future

    def close(self) -> None:
        """Store what is waiting, then stop the writer."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:  # started on first use: after uvicorn's fork, never at import
                self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        try:
            results = self._commit([p.form for p in batch])
        except Exception as exc:
            if unavailable(exc) or len(batch) == 1:
                for pending in batch:
                    _settle(pending, exc)
                return
            # One bad text must not fail the others: store each on its own.
            log.warning("inbound batch failed; storing one by one", extra={"count": len(batch)})
            for pending in batch:
                self._write([pending])
            return
        for pending, stored in zip(batch, results, strict=True):
            _settle(pending, stored)

    def _commit(self, forms: list[Form]) -> list[Stored]:
        rt = self._rt
        with transaction(rt.sessions) as session:
            return store_and_screen_many(session, rt.settings, rt.phrases, forms, self._source, utcnow())


def _settle(pending: _Pending, outcome: Stored | BaseException) -> None:
    def settle() -> None:
        if pending.future.done():  # the request was cancelled meanwhile
            return
        if isinstance(outcome, BaseException):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)

    _call_soon(pending.loop, settle)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    # RuntimeError: the loop closed while the batch committed, so nobody is waiting.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)
