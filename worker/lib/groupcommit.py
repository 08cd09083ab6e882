"""Group commit: one writer thread per process does, in one transaction, every write that was
asked for while it was committing the previous ones.

Why: some writes must be committed before the caller goes on (an inbound text before the
webhook answers, a send's "call started" mark before the provider call), and one
transaction each costs more than the work: a connection checkout, BEGIN, the statement and
COMMIT, and on SQLite a turn at its single write lock, which many threads queue for. No
timer is needed: while one batch commits the next gathers, so a lone write waits only for
its own commit, and under load one commit covers many.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from worker.lib.errors import Busy

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 100  # bounded, so that one commit (and the wait of those in it) stays short
# Writes that may wait at once. Beyond this the database is not keeping up, and a caller
# is better told at once (a webhook answers 503 and Twilio tries again) than queued
# behind work whose callers have long given up.
MAX_WAITING = 10_000


class GroupCommit(Generic[T, R]):
    """`submit(item)` returns a Future settled once `write` has committed that item.

    `write(items)` must do all of its items in one transaction and return one result per
    item, in order. If it raises an error that `outage(exc)` says is an outage (the
    database is down), the whole batch fails at once (each caller decides what an outage
    means for it); any other error is retried item by item, so one item the database
    refuses cannot fail the others.
    """

    def __init__(
        self,
        name: str,
        write: Callable[[Sequence[T]], Sequence[R]],
        max_waiting: int = MAX_WAITING,
        *,
        outage: Callable[[Exception], bool] = lambda _exc: False,
    ) -> None:
        self._name = name
        self._write = write
        self._max_waiting = max_waiting
        self._outage = outage
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, item: T) -> Future[R]:
        """Queue `item`; raises Busy if `max_waiting` writes are waiting already.

        Callers wait on the Future with a timeout: a writer stuck on a dead connection
        must not hold them for ever."""
        future: Future[R] = Future()
        with self._lock:
            if self._queue.qsize() >= self._max_waiting:
                raise Busy(f"{self._name}: {self._max_waiting} writes waiting")
            # Started on first use (after any fork, never at import), and again should the
            # thread have died: a dead writer would leave every later caller waiting.
            if self._thread is None or not self._thread.is_alive():
                self._start_locked()
            self._queue.put((item, future))
        return future

    def _start(self, replacing: threading.Thread) -> None:
        with self._lock:
            if self._thread is replacing:  # not closed meanwhile
                self._start_locked()

    def _start_locked(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is waiting, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            # A caller that gave up (its future cancelled) needs no write.
            live = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                self._settle(live)
            except Exception as exc:  # a bug in write: fail these callers, keep serving the rest
                log.exception("batched write broke", extra={"writer": self._name})
                _fail(live, exc)
            except BaseException as exc:  # this thread is going: nobody may wait on it
                _fail(live, exc)
                self._start(replacing=threading.current_thread())
                raise

    def _take(self) -> list[tuple[T, Future[R]]] | None:
        """The next batch: block for one entry, then take whatever else is already waiting."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                break
            if entry is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(entry)
        return batch

    def _settle(self, batch: list[tuple[T, Future[R]]]) -> None:
        try:
            results = self._write([item for item, _ in batch])
        except Exception as exc:
            if self._outage(exc) or len(batch) == 1:
                _fail(batch, exc)
                return
            log.warning(
                "batched write failed; writing one by one", extra={"writer": self._name, "count": len(batch)}
            )
            for entry in batch:
                self._settle([entry])
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)


def _fail(batch: list[tuple[T, Future[R]]], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
