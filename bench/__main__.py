"""`python -m bench`: measure the whole pipeline on this machine and print one table.

Writes every figure to a JSON file (bench-results.json unless --output says otherwise).
`--smoke` runs every measurement with tiny counts in about a minute: it proves the
benchmark still works, and its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from bench import crisis, dispatcher_cost, pipeline, reference, webhook
from bench.report import table

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

FULL = {
    "burst": 10_000,
    "paced": 6_000,
    "paced_rate": 300.0,
    "rate_messages": 1_500,
    "usual": 10_000,  # the same count as the burst: the reference (about 17 minutes)
    "noop": 5_000,
    "sizes": [10_000, 100_000, 1_000_000],
    "sqlite_sizes": [10_000, 100_000],
    "webhook": 5_000,
    "claim": 1_000,
    "crisis": 40,  # crisis texts posted during the burst
    "settle": 3.0,  # seconds of quiet before each step
}
# Each step's key in the JSON output; `--only` takes these names.
STEPS = ("throughput", "paced", "dispatcher", "webhook", "rate_limit", "crisis", "usual", "noop")
SMOKE = {
    "burst": 60,
    "paced": 40,
    "paced_rate": 40.0,
    "rate_messages": 30,
    "usual": 10,
    "noop": 50,
    "sizes": [2_000],
    "sqlite_sizes": [2_000],
    "webhook": 100,
    "claim": 100,
    "crisis": 4,
    "settle": 0.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG),
        help="a PostgreSQL database the role may create scratch databases beside",
    )
    parser.add_argument("--redis-url", help="a Redis to use (default: a private redis-server)")
    parser.add_argument("--output", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--smoke", action="store_true", help="tiny counts: checks that it runs")
    parser.add_argument(
        "--only",
        action="append",
        choices=STEPS,
        metavar="STEP",
        help=f"run only this step (repeatable): {', '.join(STEPS)}; ratios need usual",
    )
    parser.add_argument(
        "--usual-count",
        type=int,
        metavar="N",
        help=f"send N the usual way for the reference (default {FULL['usual']:,}, as many as the burst)",
    )
    args = parser.parse_args()
    sizes = dict(SMOKE if args.smoke else FULL)
    if args.usual_count is not None:
        if args.usual_count < 1:
            parser.error("--usual-count must be at least 1")
        sizes["usual"] = args.usual_count
    started = time.monotonic()
    with _redis(args.redis_url) as redis_url, tempfile.TemporaryDirectory() as scratch:
        databases = {"sqlite": f"sqlite:///{Path(scratch) / 'bench.sqlite3'}"}
        if _reachable(args.postgres_url):
            databases["postgresql"] = args.postgres_url
        else:
            print(f"PostgreSQL at {args.postgres_url} does not answer: SQLite only", file=sys.stderr)
        results = run_all(databases, redis_url, sizes, set(args.only or STEPS))
    results["meta"] = {
        "smoke": args.smoke,
        "seconds": round(time.monotonic() - started, 1),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nfigures written to {args.output}")


def run_all(
    databases: dict[str, str], redis_url: str, sizes: dict[str, Any], only: set[str]
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, url in databases.items():
        for step, (title, measure) in _per_database(url, redis_url, sizes, name).items():
            if step in only:
                results.setdefault(step, {})[name] = _step(f"{title} on {name}", measure, sizes["settle"])
    primary = databases.get("postgresql", databases["sqlite"])
    for step, (title, measure) in _once(primary, redis_url, sizes).items():
        if step in only:
            results[step] = _step(title, measure, sizes["settle"])
    return results


Measure = Callable[[], dict[str, Any]]


def _per_database(
    url: str, redis_url: str, sizes: dict[str, Any], name: str
) -> dict[str, tuple[str, Measure]]:
    burst, paced, rate = sizes["burst"], sizes["paced"], sizes["paced_rate"]
    claim_sizes = sizes["sizes"] if name == "postgresql" else sizes["sqlite_sizes"]
    return {
        "throughput": (f"burst of {burst}", partial(pipeline.run, url, redis_url, burst)),
        "paced": (f"{paced} due at {rate:g}/s", partial(pipeline.run, url, redis_url, paced, paced=rate)),
        "dispatcher": (
            "dispatcher cost",
            partial(dispatcher_cost.measure, url, sizes=claim_sizes, claim=sizes["claim"]),
        ),
        "webhook": ("webhook", partial(webhook.measure, url, redis_url, requests=sizes["webhook"])),
    }


def _once(url: str, redis_url: str, sizes: dict[str, Any]) -> dict[str, tuple[str, Measure]]:
    limited = partial(
        pipeline.run, url, redis_url, sizes["rate_messages"], send_rate=50, workers=3, processes=2
    )
    during_burst = partial(crisis.measure, url, redis_url, burst=sizes["burst"], crisis=sizes["crisis"])
    return {
        "rate_limit": ("rate limit 50/s, three workers", limited),
        "crisis": (f"{sizes['crisis']} crisis texts during a burst of {sizes['burst']}", during_burst),
        "usual": (
            f"usual design, {sizes['usual']} messages",
            partial(reference.usual, url, redis_url, sizes["usual"]),
        ),
        "noop": (f"no-op Celery tasks, {sizes['noop']}", partial(reference.noop, redis_url, sizes["noop"])),
    }


def _step(title: str, measure: Measure, settle: float) -> dict[str, Any]:
    # Each step starts on a settled machine: the step before may leave gigabytes of dirty
    # pages (a dropped million-row database) whose write-back would stall this one's commits.
    os.sync()
    time.sleep(settle)
    print(f"== {title}", file=sys.stderr, flush=True)
    started = time.monotonic()
    figures = measure()
    print(f"   done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return figures


def _reachable(url: str) -> bool:
    from sqlalchemy import text

    from worker.db.engine import make_engine

    try:
        engine = make_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def _redis(url: str | None) -> Iterator[str]:
    """The given Redis, or a private redis-server (no persistence) for the run."""
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("error: no redis-server on PATH; install it or pass --redis-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
