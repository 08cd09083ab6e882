"""The consumer watchdog's decision: restart only a worker that had room while a queue's
oldest task stood still."""

from __future__ import annotations

from worker.jobs.watchdog import STRIKES, Stall


def test_a_queue_head_that_stands_still_while_the_worker_has_room_is_a_stall() -> None:
    stall = Stall()
    verdicts = [stall.observe({"urgent": b"task-1", "sends": None}, room=True) for _ in range(STRIKES + 1)]
    # The first check only records the head; each later one that sees it again is a strike.
    assert verdicts == [False] * STRIKES + [True]


def test_a_moving_queue_is_never_a_stall() -> None:
    stall = Stall()
    assert not any(stall.observe({"urgent": f"task-{n}".encode()}, room=True) for n in range(10))


def test_a_busy_worker_is_not_stalled_however_long_the_queue_waits() -> None:
    stall = Stall()
    assert not any(stall.observe({"sends": b"task-1"}, room=False) for _ in range(10))


def test_empty_queues_are_not_a_stall() -> None:
    stall = Stall()
    assert not any(stall.observe({"urgent": None, "sends": None}, room=True) for _ in range(10))


def test_one_check_without_room_starts_the_count_again() -> None:
    stall = Stall()
    seen = [stall.observe({"urgent": b"task-1"}, room=room) for room in (True, True, False, True, True)]
    assert seen == [False, False, False, False, True]
