"""The group-commit writer: what arrives during one write goes in the next, together."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import CancelledError

import pytest
from sqlalchemy.exc import OperationalError

from worker.db.engine import unavailable
from worker.lib.errors import Busy
from worker.lib.groupcommit import GroupCommit


class Recorder:
    """A write that records its batches and can be held until released."""

    def __init__(self, refuse: str | None = None, outage: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.refuse = refuse
        self.outage = outage

    def __call__(self, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        self.entered.set()
        self.release.wait(5)
        if self.outage:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        if self.refuse in items:
            raise ValueError("refused")
        return [item.upper() for item in items]


def held_first(recorder: Recorder, writer: GroupCommit[str, str]) -> None:
    """Hold the writer inside a first write, so that what is submitted next has to wait."""
    recorder.release.clear()
    writer.submit("first")
    assert recorder.entered.wait(5)


def test_items_submitted_during_a_write_are_written_together_next() -> None:
    recorder = Recorder()
    writer: GroupCommit[str, str] = GroupCommit("test", recorder)
    held_first(recorder, writer)
    futures = [writer.submit(f"item{i}") for i in range(10)]
    recorder.release.set()
    assert [f.result(5) for f in futures] == [f"ITEM{i}" for i in range(10)]
    assert recorder.batches == [["first"], [f"item{i}" for i in range(10)]]
    writer.close()


def test_an_item_the_write_refuses_fails_alone_and_the_rest_of_its_batch_is_written() -> None:
    recorder = Recorder(refuse="bad")
    writer: GroupCommit[str, str] = GroupCommit("test", recorder)
    held_first(recorder, writer)
    futures = {item: writer.submit(item) for item in ("a", "bad", "c")}
    recorder.release.set()
    assert futures["a"].result(5) == "A" and futures["c"].result(5) == "C"
    with pytest.raises(ValueError, match="refused"):
        futures["bad"].result(5)
    assert recorder.batches[1:] == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    writer.close()


def test_a_database_outage_fails_the_whole_batch_at_once() -> None:
    recorder = Recorder()
    writer: GroupCommit[str, str] = GroupCommit("test", recorder, outage=unavailable)
    held_first(recorder, writer)
    recorder.outage = True
    futures = [writer.submit(item) for item in ("a", "b", "c")]
    recorder.release.set()
    for future in futures:
        with pytest.raises(OperationalError):
            future.result(5)
    assert recorder.batches[1:] == [["a", "b", "c"]]  # not retried one by one into the outage
    writer.close()


def test_a_caller_that_gave_up_before_its_turn_is_not_written() -> None:
    recorder = Recorder()
    writer: GroupCommit[str, str] = GroupCommit("test", recorder)
    held_first(recorder, writer)
    gone, kept = writer.submit("gone"), writer.submit("kept")
    assert gone.cancel()
    recorder.release.set()
    assert kept.result(5) == "KEPT"
    with pytest.raises(CancelledError):
        gone.result(0)
    assert recorder.batches[1:] == [["kept"]]
    writer.close()


def test_close_writes_what_is_waiting_and_a_broken_write_does_not_stop_the_writer() -> None:
    def miscounted(items: Sequence[str]) -> list[str]:
        return [] if items == ["broken"] else list(items)

    writer: GroupCommit[str, str] = GroupCommit("test", miscounted)
    broken = writer.submit("broken")
    with pytest.raises(ValueError):  # one result too few: the caller hears of it
        broken.result(5)
    waiting = [writer.submit(f"late{i}") for i in range(3)]
    writer.close()
    assert [f.result(0) for f in waiting] == ["late0", "late1", "late2"]


def test_a_full_queue_refuses_more_at_once_instead_of_queueing_them() -> None:
    recorder = Recorder()
    writer: GroupCommit[str, str] = GroupCommit("test", recorder, max_waiting=3)
    held_first(recorder, writer)
    waiting = [writer.submit(f"w{i}") for i in range(3)]
    with pytest.raises(Busy):
        writer.submit("one too many")
    recorder.release.set()
    assert [f.result(5) for f in waiting] == ["W0", "W1", "W2"]
    assert writer.submit("room again").result(5) == "ROOM AGAIN"
    writer.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the point
def test_a_writer_thread_that_died_is_started_again_and_its_callers_hear_why() -> None:
    def dies_on_exit(items: Sequence[str]) -> list[str]:
        if "exit" in items:
            raise SystemExit("the thread is told to stop")
        return list(items)

    writer: GroupCommit[str, str] = GroupCommit("dying-writer", dies_on_exit)
    doomed = writer.submit("exit")
    dying = [t for t in threading.enumerate() if t.name == "dying-writer"]
    with pytest.raises(SystemExit):
        doomed.result(5)
    # The callers hear first and the thread raises after: wait for it here, or pytest
    # reports its exception against whichever test is running when it lands.
    for thread in dying:
        thread.join(5)
    assert writer.submit("after").result(5) == "after"
    writer.close()


def test_a_batch_whose_callers_all_gave_up_writes_nothing() -> None:
    recorder = Recorder()
    writer: GroupCommit[str, str] = GroupCommit("test", recorder)
    held_first(recorder, writer)
    gone = [writer.submit(f"gone{i}") for i in range(3)]
    assert all(f.cancel() for f in gone)
    recorder.release.set()
    assert writer.submit("next").result(5) == "NEXT"
    assert ["gone0", "gone1", "gone2"] not in recorder.batches
    assert all("gone0" not in batch for batch in recorder.batches)
    writer.close()
