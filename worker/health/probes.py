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
from typing import Any

from worker.health.checks import Check, check_beat, check_database, check_queue, check_redis
from worker.runtime import Runtime


def readiness(rt: Runtime) -> dict[str, Check]:
    return {"database": check_database(rt.engine, rt.settings), "redis": check_redis(rt.redis)}


def details(rt: Runtime, figures: dict[str, Any]) -> dict[str, object]:
    """The readiness checks, the queue and beat checks, and `figures` (counts and ages that
    the metrics show too), as one JSON document with `ok` false when any check fails."""
    checks = readiness(rt)
    if checks["database"].ok:
        checks["queue"] = check_queue(rt.engine, rt.settings)
    if rt.redis is not None and checks["redis"].ok:
        checks["beat"] = check_beat(rt.redis, rt.settings, time.time())
    return {
        "ok": all(check.ok for check in checks.values()),
        "checks": {name: check.as_report() for name, check in checks.items()},
        **figures,
    }
