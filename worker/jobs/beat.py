"""RedBeat, made to survive Redis being down or restarting without its data.

RedBeat keeps its lock and the schedule in Redis, and gives up when Redis is not there:
- at start-up, reading the schedule raises ConnectionError and beat exits; taking the lock
  fails too, silently (Celery swallows errors in `beat_init`), so the first tick would
  raise on a lock that was never taken;
- later, when Redis restarts empty, the lock is gone and the next extend raises
  LockNotOwnedError, which stops beat for good.
Either way no dispatcher runs until someone restarts beat. This scheduler

1. waits for Redis before installing its schedule (logging each wait);
2. at each tick, takes the lock first if it has none (waiting while another beat holds it,
   so this one becomes the standby) and reinstalls the schedule, which Redis may have lost;
3. treats a lost lock or an unanswered call as "try again shortly", never as fatal;

so an outage costs a few seconds after Redis returns, not the clinic's reminders.

A thread stamps beat's heartbeat file (worker.jobs.heartbeats, read by `beat --check`)
while the scheduler ticks, and while it waits for Redis or, as the standby, for the other
beat's lock: those are beat doing its job. A main loop that stopped ticking stops the stamps.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from redbeat.schedulers import RedBeatScheduler, acquire_distributed_beat_lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from worker.jobs.app_settings import settings_of
from worker.jobs.heartbeats import BEAT, BEAT_STALE_SECONDS, heartbeat_path
from worker.lib.heartbeat import stamp
from worker.retries import BEAT_REDIS_RETRY_SECONDS
from worker.settings import Settings, beat_heartbeat_key

log = logging.getLogger(__name__)
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
STAMP_EVERY_SECONDS = 5.0
# A tick this long ago means the main loop stopped (ticks come at least every 5 s).
TICK_STALL_SECONDS = BEAT_STALE_SECONDS / 2


class Scheduler(RedBeatScheduler):  # type: ignore[misc]
    lock: Any  # redis Lock once taken; None before and after losing it
    # What the main thread is doing, for the heartbeat thread: "waiting" states are healthy
    # however long they last; "ticking" is healthy while ticks keep coming.
    _state = "waiting for the lock"  # redbeat's beat_init takes the lock before any tick
    _last_tick = 0.0
    _pacemaker: threading.Thread | None = None

    def setup_schedule(self) -> None:
        self._start_pacemaker()
        while True:
            try:
                super().setup_schedule()
                return
            except REDIS_DOWN:
                log.warning(
                    "Redis does not answer; beat will install its schedule when it does",
                    extra={"retry_in": BEAT_REDIS_RETRY_SECONDS},
                )
                time.sleep(BEAT_REDIS_RETRY_SECONDS)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self._state, self._last_tick = "ticking", time.monotonic()
        try:
            if self.lock is None and self.lock_key:
                self._retake()
            return float(super().tick(*args, **kwargs))
        except LockError:
            log.warning("beat lost its lock (Redis restarted or another beat took over); taking it again")
            self.lock = None
            return 0.0
        except REDIS_DOWN:
            log.warning(
                "Redis does not answer; beat will try again", extra={"retry_in": BEAT_REDIS_RETRY_SECONDS}
            )
            return BEAT_REDIS_RETRY_SECONDS

    def _retake(self) -> None:
        # Blocks until the lock is free: with another beat alive, this one becomes the standby.
        self._state = "waiting for the lock"
        acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=self))
        self._state = "ticking"
        self.setup_schedule()  # Redis may have lost the schedule along with the lock

    def _start_pacemaker(self) -> None:
        if self._pacemaker is not None:
            return
        path = heartbeat_path(settings_of(self.app), BEAT)
        pacemaker = threading.Thread(target=self._pace, args=(path,), name="beat-heartbeat", daemon=True)
        self._pacemaker = pacemaker
        pacemaker.start()

    def _pace(self, path: Path) -> None:
        while True:
            ticking = self._state == "ticking"
            if not ticking or time.monotonic() - self._last_tick < TICK_STALL_SECONDS:
                try:
                    stamp(path, state="active" if ticking else self._state)
                except OSError as exc:
                    log.warning("beat heartbeat not written", extra={"error": type(exc).__name__})
            time.sleep(STAMP_EVERY_SECONDS)


def record_heartbeat(client: Any, settings: Settings) -> None:
    """Stamp this dispatcher run (Unix time) in Redis: `doctor` warns when beat has not run
    for three dispatch intervals, and fails after ten minutes. Best effort: the heartbeat
    never stops a dispatch. No Redis (the in-process broker of the demo): nothing to stamp."""
    if client is None:
        return
    try:
        client.set(beat_heartbeat_key(settings), f"{time.time():.3f}")
    except RedisError as exc:
        log.debug("beat heartbeat not written", extra={"error": type(exc).__name__})
