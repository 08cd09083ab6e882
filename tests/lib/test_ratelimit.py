"""The send rate is shared by every process through Redis."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import cast

import pytest
import redis

from tests.conftest import RedisServer
from worker.lib.ratelimit import RateLimiter
from worker.outbound.sending import LATE, take_slot
from worker.runtime import LocalRateLimiter, Runtime


def test_reservations_from_many_clients_are_spaced_by_one_over_rate(redis_server: RedisServer) -> None:
    times: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        limiter = RateLimiter(redis.Redis.from_url(redis_server.url), "rl-test-spacing", 20.0)
        for _ in range(10):
            granted, wait = limiter.reserve(max_wait=10)
            assert granted
            time.sleep(wait)
            with lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times.sort()
    assert len(times) == 30
    # 30 sends at 20/s take at least 1.45 s whoever asks, and no 1 s window holds more than
    # 20: the spacing is 8% wider than the rate, room for the jitter of waking up.
    assert times[-1] - times[0] >= 1.45
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= 20


def test_a_slot_too_far_away_is_refused_without_being_reserved(redis_server: RedisServer) -> None:
    limiter = RateLimiter(redis.Redis.from_url(redis_server.url), "rl-test-refuse", 1.0)
    assert limiter.reserve(max_wait=5) == (True, 0.0)
    granted, wait = limiter.reserve(max_wait=0.5)
    assert not granted and 0.5 < wait <= limiter.interval
    granted_again, wait_again = limiter.reserve(max_wait=5)
    assert granted_again and wait_again <= limiter.interval  # the refused call did not push the slot further


class CountingLimiter(LocalRateLimiter):
    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.reservations = 0

    def reserve(self, max_wait: float) -> tuple[bool, float]:
        self.reservations += 1
        return super().reserve(max_wait)


def test_a_slot_missed_because_of_a_slow_commit_is_given_up_and_another_taken() -> None:
    limiter = CountingLimiter(10.0)
    marks: list[float] = []

    def slow_mark() -> bool:
        marks.append(time.monotonic())
        time.sleep(LATE + 0.05)  # a commit slower than the slack a slot allows
        return True

    limiter.reserve(10)  # the rate binds: the next slot is a tenth of a second away
    rt = cast(Runtime, SimpleNamespace(limiter=limiter, sleep=time.sleep))
    assert take_slot(rt, time.monotonic() + 5, slow_mark) is True
    assert len(marks) == 1  # the call is recorded once, however many slots it takes
    assert limiter.reservations == 3  # the one above, the slot missed, the slot used


def test_no_slot_in_time_means_no_call() -> None:
    limiter = CountingLimiter(1.0)
    limiter.reserve(10)  # the next slot is a second away
    rt = cast(Runtime, SimpleNamespace(limiter=limiter, sleep=time.sleep))
    assert take_slot(rt, time.monotonic() + 0.2, lambda: pytest.fail("must not mark")) is None
