"""The reference figures, measured in the same run as the worker's: the usual design's
throughput on the same machine, Redis, database and stand-in, and a no-op task's."""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench._keys import run_keys
from bench._procs import ACCOUNT_SID, AUTH_TOKEN, ROOT, Child, standin_get, start, start_standin, work_folder
from bench._scratch import scratch_database
from bench.pipeline import seed
from worker.db.migrate import upgrade


def _say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _env(url: str, redis_url: str, standin_url: str, queue: str) -> dict[str, str]:
    import os

    keys = run_keys()  # the keys seed() encrypted the phones with
    return dict(
        os.environ,
        BENCH_DATABASE_URL=url,
        BENCH_REDIS_URL=redis_url,
        BENCH_TWILIO_URL=standin_url,
        BENCH_ACCOUNT_SID=ACCOUNT_SID,
        BENCH_AUTH_TOKEN=AUTH_TOKEN,
        BENCH_QUEUE=queue,
        BENCH_ENCRYPTION_KEYS=keys.encryption,
        BENCH_BLIND_INDEX_KEYS=keys.index,
        PYTHONPATH=str(ROOT),
    )


def _celery_worker(folder: Path, env: dict[str, str], concurrency: int) -> Child:
    command = [sys.executable, "-m", "celery", "-A", "bench.usual", "worker", "--pool", "prefork"]
    command += ["--concurrency", str(concurrency), "--loglevel", "INFO", "-Q", env["BENCH_QUEUE"]]
    child = start("usual-worker", command, env, folder)
    child.wait_for("ready")
    return child


def usual(
    database_url: str, redis_url: str, count: int, latency: float = 0.15, concurrency: int = 2
) -> dict[str, Any]:
    """`count` reminders sent the usual way: ETA tasks, one blocking call each, prefork."""
    from bench import usual as app_module

    queue = f"bench-usual-{uuid.uuid4().hex[:8]}"
    with work_folder() as name, scratch_database(database_url) as url:
        folder = Path(name)
        upgrade(url)
        seed(url, count)
        standin, standin_url = start_standin(folder, latency)
        env = _env(url, redis_url, standin_url, queue)
        children = [standin]
        try:
            app_module.app.conf.update(broker_url=redis_url, task_default_queue=queue)
            children.append(_celery_worker(folder, env, concurrency))
            t0 = time.time()
            due = datetime.fromtimestamp(t0, UTC)
            for message_id in range(1, count + 1):
                app_module.send.apply_async(args=[message_id], eta=due, queue=queue)
            _say(f"{count} ETA tasks enqueued in {time.time() - t0:.1f} s; sending the usual way")
            while (seen := standin_get(standin_url, "/_standin/count")["accepted"]) < count:
                time.sleep(1)
                if seen and seen % 200 < 15:
                    _say(f"{seen} of {count} accepted")
            accepted = standin_get(standin_url, "/_standin/messages")
        finally:
            for child in reversed(children):
                child.stop()
            redis.Redis.from_url(redis_url).delete(queue)
    span = max(record["at"] for record in accepted) - t0
    return {
        "messages": count,
        "seconds": round(span, 2),
        "per_second": round(count / span, 1),
        "pool": f"prefork x{concurrency}",
    }


def noop(redis_url: str, count: int = 5000, concurrency: int = 2) -> dict[str, Any]:
    """Celery's own ceiling here: `count` no-op tasks through the same Redis, prefork pool."""
    from bench import usual as app_module

    queue = f"bench-noop-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    with work_folder() as name:
        env = _env("sqlite://", redis_url, "http://127.0.0.1:9", queue)
        app_module.app.conf.update(broker_url=redis_url, task_default_queue=queue)
        worker = _celery_worker(Path(name), env, concurrency)
        try:
            t0 = time.time()
            for _ in range(count):
                app_module.noop.apply_async(queue=queue)
            while int(client.get(queue + ":done") or 0) < count:
                time.sleep(0.05)
            span = time.time() - t0
        finally:
            worker.stop()
            client.delete(queue, queue + ":done")
    return {"tasks": count, "seconds": round(span, 2), "per_second": round(count / span, 1)}
