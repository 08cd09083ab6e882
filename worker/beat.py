"""RedBeat, made to survive Redis restarting without its data.

RedBeat keeps its lock and the schedule in Redis. When Redis restarts empty, the lock is gone
and the next extend raises LockNotOwnedError, which stops beat for good: no more dispatcher
runs until someone restarts it. This scheduler takes the lock again (waiting if another beat
now holds it) and reinstalls the schedule, so a Redis restart costs a few seconds, not the
clinic's reminders.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from redbeat.schedulers import RedBeatScheduler, acquire_distributed_beat_lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
RETRY_SECONDS = 2.0


class Scheduler(RedBeatScheduler):  # type: ignore[misc]
    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            return float(super().tick(*args, **kwargs))
        except LockError:
            log.warning("beat lost its lock (Redis restarted or another beat took over); taking it again")
            self._retake()
            return 0.0
        except (RedisConnectionError, RedisTimeoutError):
            log.warning("Redis does not answer; beat will try again", extra={"retry_in": RETRY_SECONDS})
            return RETRY_SECONDS

    def _retake(self) -> None:
        self.lock = None
        # Blocks until the lock is free: with another beat alive, this one becomes the standby.
        acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=self))
        self.setup_schedule()  # Redis may have lost the schedule along with the lock
