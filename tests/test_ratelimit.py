"""The send rate is shared by every process through Redis."""

from __future__ import annotations

import threading
import time

import redis

from tests.conftest import RedisServer
from worker.ratelimit import RateLimiter


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
    # 20: the spacing is 5% wider than the rate, room for the jitter of waking up.
    assert times[-1] - times[0] >= 1.45
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= 20


def test_a_slot_too_far_away_is_refused_without_being_reserved(redis_server: RedisServer) -> None:
    limiter = RateLimiter(redis.Redis.from_url(redis_server.url), "rl-test-refuse", 1.0)
    assert limiter.reserve(max_wait=5) == (True, 0.0)
    granted, wait = limiter.reserve(max_wait=0.5)
    assert not granted and 0.5 < wait <= limiter.interval
    granted_again, wait_again = limiter.reserve(max_wait=5)
    assert granted_again and wait_again <= limiter.interval  # the refused call did not push the slot further
