"""Everything a worker process needs, built once from Settings and passed down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from worker.db.engine import engine_for, session_factory, unavailable
from worker.language.screening import Screener, load_screener
from worker.lib.groupcommit import GroupCommit
from worker.lib.ratelimit import RateLimiter, spacing
from worker.messages.templates import Templates, load_templates
from worker.questionnaires.definitions import Catalogue, load_catalogue
from worker.settings import Settings, config_file, require_clinic_phone
from worker.sms import SmsSender, make_sender

CRISIS_RULES = "crisis_rules.yaml"
T = TypeVar("T")
R = TypeVar("R")


class Limiter(Protocol):
    interval: float

    def reserve(self, max_wait: float) -> tuple[bool, float]: ...


class LocalRateLimiter:
    """For the demo without Redis (in-process broker): one process, so a lock is enough."""

    def __init__(self, rate_per_second: float) -> None:
        self.interval = spacing(rate_per_second)
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self, max_wait: float) -> tuple[bool, float]:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            if slot - now > max_wait:
                return False, slot - now
            self._next = slot + self.interval
            return True, slot - now


def make_redis(settings: Settings) -> Any:
    import redis

    # Without timeouts a half-open connection blocks a worker forever.
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    sender: SmsSender
    templates: Templates
    limiter: Limiter
    catalogue: Catalogue
    screener: Screener
    redis: Any = None
    sleep: Callable[[float], None] = field(default=time.sleep)
    _pool: ThreadPoolExecutor | None = None
    _writers: dict[str, GroupCommit[Any, Any]] = field(default_factory=dict)
    _writers_lock: threading.Lock = field(default_factory=threading.Lock)

    def send_pool(self) -> ThreadPoolExecutor:
        """Threads for provider calls, made on first use (after any fork), one set per process."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.send_concurrency, thread_name_prefix="send")
        return self._pool

    def writer(self, name: str, write: Callable[[Sequence[T]], Sequence[R]]) -> GroupCommit[T, R]:
        """The process's group-commit writer called `name`, made on first use with `write`."""
        with self._writers_lock:
            if name not in self._writers:
                self._writers[name] = GroupCommit(name, write, outage=unavailable)
            return self._writers[name]

    def close(self) -> None:
        # Sends first: a send still running may need its writer.
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for writer in self._writers.values():
            writer.close()
        self.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def load_crisis_screener(settings: Settings) -> Screener:
    """The crisis screener of the configured rule file: the webhook, reconciliation,
    `replies classify`, `questionnaires validate` and the health check all load it here."""
    return load_screener(config_file(settings, CRISIS_RULES))


def build_runtime(
    settings: Settings, *, sender: SmsSender | None = None, pool_size: int | None = None
) -> Runtime:
    require_clinic_phone(settings)  # every process that can send a crisis text
    pool = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 0}
    engine = engine_for(settings, **pool)
    redis_client = None
    limiter: Limiter
    if settings.redis_url.startswith("memory://"):
        limiter = LocalRateLimiter(settings.send_rate)
    else:
        redis_client = make_redis(settings)
        limiter = RateLimiter(redis_client, f"{settings.queue_name}:send-rate", settings.send_rate)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        sender=sender or make_sender(settings),
        templates=load_templates(settings),
        limiter=limiter,
        catalogue=load_catalogue(config_file(settings, "questionnaires")),
        screener=load_crisis_screener(settings),
        redis=redis_client,
    )
