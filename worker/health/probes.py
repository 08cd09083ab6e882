"""What the web server answers to orchestrators and dashboards.

- liveness (`/livez`): the process answers; nothing else is asked, so an outage of the
  database, Redis or beat never gets the webhook receivers restarted — they still store
  what Twilio sends, or answer it with an error Twilio retries;
- readiness (`/readyz`, and `/healthz` for deployments made before): the database (at the
  code's schema) and Redis answer, so this process can do its work;
- details (`/healthz/details`): for people and dashboards, the queue, beat and alerts as
  well; a backlog is news, not a reason to take a receiver out of service.
None of them names a host, a user, a patient or a text: they are reachable from outside.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from worker.db.models import utcnow
from worker.health.checks import Check, check_beat, check_database, check_queue, check_redis
from worker.health.figures import database_figures, redis_figures
from worker.runtime import Runtime


def readiness(rt: Runtime) -> dict[str, Check]:
    return {
        "database": check_database(rt.engine, rt.settings, rolling=True),
        "redis": check_redis(rt.redis),
    }


def details(rt: Runtime) -> dict[str, object]:
    """The readiness checks, the queue and beat checks, and the figures the metrics show
    (backlog, ages, queue depths, open alerts), as one JSON document with `ok` false when
    any check fails. A store that does not answer costs only its own figures."""
    now = time.time()
    checks = readiness(rt)
    body: dict[str, object] = {}
    if checks["database"].ok:
        checks["queue"] = check_queue(rt.engine, rt.settings)
        body["database"] = _or_none(lambda: database_figures(rt, utcnow()).as_json())
    if rt.redis is not None and checks["redis"].ok:
        checks["beat"] = check_beat(rt.redis, rt.settings, now)
        body["redis"] = _or_none(lambda: _redis_json(rt, now))
    return {
        "ok": all(check.ok for check in checks.values()),
        "checks": {name: check.as_report() for name, check in checks.items()},
        **body,
    }


def _redis_json(rt: Runtime, now: float) -> dict[str, object] | None:
    found = redis_figures(rt, now)
    return found.as_json() if found is not None else None


def _or_none(read: Callable[[], dict[str, object] | None]) -> dict[str, object] | None:
    # The check just passed; a failure in between is a race, shown as no figures.
    try:
        return read()
    except (SQLAlchemyError, RedisError):
        return None
