"""A send rate shared by every worker process, kept in Redis.

Celery's own `rate_limit` is per worker process; clinics need one ceiling for the whole
account (carriers throttle per sender). This is GCRA: one key holds the time the next
send is allowed, and each reservation moves it on by 1/rate. The clock is Redis's own,
so workers on machines with skewed clocks still agree.
"""

from __future__ import annotations

import math
from typing import Any

_RESERVE = """
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now
if wait > max_wait then return -wait end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return wait
"""


# Sends are spaced 8% wider than the configured rate: a request leaves at its slot but
# reaches the provider a few milliseconds early or late, and without this margin that
# jitter alone can put rate + 1 requests into some one-second window.
HEADROOM = 0.92


def spacing(rate_per_second: float) -> float:
    """Seconds between two send slots at this rate."""
    return 1.0 / (rate_per_second * HEADROOM)


class RateLimiter:
    def __init__(self, redis: Any, key: str, rate_per_second: float) -> None:
        self._redis = redis
        self._key = key
        self._interval_us = max(1, math.ceil(1_000_000 * spacing(rate_per_second)))
        self.interval = self._interval_us / 1e6
        self._script = redis.register_script(_RESERVE)

    def reserve(self, max_wait: float) -> tuple[bool, float]:
        """Reserve the next send slot if it comes within `max_wait` seconds.

        Returns (True, seconds to sleep before sending) or (False, seconds until a slot
        would be free) without reserving anything.
        """
        args = [self._interval_us, int(max_wait * 1e6)]
        result = int(self._script(keys=[self._key], args=args))
        if result < 0:
            return False, -result / 1e6
        return True, result / 1e6
