"""The whole send pipeline, end to end: messages fall due in the database, beat's dispatcher
claims them, worker processes send them through the real twilio client to the stand-in
(which answers after a simulated provider latency), and the stand-in's own clock says when
each was accepted.

Figures: throughput for a burst all due at once, lateness (accepted minus due) for the
burst and for a steady stream due at a given rate, the highest count accepted in any
one-second window under a rate limit, and each process's peak memory.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update

from bench._keys import run_cipher
from bench._procs import Child, standin_get, start, start_standin, start_worker, work_folder, worker_env
from bench._scratch import scratch_database
from worker.db.engine import make_engine
from worker.db.migrate import upgrade
from worker.db.models import Appointment, Message, Patient


def _say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def phone_of(patient_id: int) -> str:
    """The phone number seed() gives patient `patient_id`."""
    return f"+1{2000000000 + patient_id}"


def seed(database_url: str, count: int) -> None:
    """`count` consenting patients, each with an appointment in three days and one planned
    reminder not yet due. Inserted in bulk: planning is not what is measured here.

    Encrypted as production stores them, under this run's keys (bench._keys): each send
    decrypts a real phone token, and a text from a seeded phone finds its patient by
    phone_index. Core inserts skip the ORM event that sets phone_index, so it is set here.
    """
    now = datetime.now(UTC)
    cipher = run_cipher()
    engine = make_engine(database_url, cipher=cipher)
    start_at = now + timedelta(days=3)
    with engine.begin() as connection:
        connection.execute(
            insert(Patient),
            [
                {
                    "id": i,
                    "name": f"Bench {i}",
                    "phone": phone_of(i),
                    "phone_index": cipher.index(phone_of(i)),
                    "timezone": "America/New_York",
                    "language": "en",
                    "sms_consent": True,
                    "consent_at": now,
                    "consent_source": "bench",
                    "opted_out": False,
                    "created_at": now,
                }
                for i in range(1, count + 1)
            ],
        )
        connection.execute(
            insert(Appointment),
            [
                {
                    "id": i,
                    "patient_id": i,
                    "start_at": start_at,
                    "duration_minutes": 60,
                    "kind": "session",
                    "status": "scheduled",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, count + 1)
            ],
        )
        connection.execute(
            insert(Message),
            [
                {
                    "id": i,
                    "key": f"appt:{i}:reminder:bench",
                    "appointment_id": i,
                    "patient_id": i,
                    "kind": "reminder",
                    "template": "reminder",
                    "due_at": now + timedelta(days=2),
                    "status": "planned",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, count + 1)
            ],
        )
        if engine.dialect.name == "postgresql":
            for table in ("patients", "appointments", "messages"):
                connection.execute(text(f"SELECT setval('{table}_id_seq', {count})"))
    engine.dispose()


def make_due(database_url: str, count: int, rate: float | None) -> float:
    """Make the reminders due now (all at once, or one every 1/rate s); returns that moment."""
    engine = make_engine(database_url)
    t0 = time.time()
    due0 = datetime.fromtimestamp(t0, UTC)
    with engine.begin() as connection:
        if rate is None:
            connection.execute(update(Message).values(due_at=due0))
        else:
            params = [
                {"b_id": i, "b_due": due0 + timedelta(seconds=(i - 1) / rate)} for i in range(1, count + 1)
            ]
            connection.execute(
                update(Message).where(Message.id == text(":b_id")).values(due_at=text(":b_due")), params
            )
    engine.dispose()
    return t0


def _wait_accepted(standin_url: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        seen = standin_get(standin_url, "/_standin/count")["accepted"]
        if seen >= count:
            return
        if seen // 1000 != last // 1000:
            _say(f"{seen} of {count} accepted")
        last = seen
        time.sleep(0.5)
    raise RuntimeError(f"only {last} of {count} accepted in {timeout:.0f} s")


def _due_times(database_url: str) -> dict[str, float]:
    """Phone -> due time (epoch seconds)."""
    engine = make_engine(database_url, cipher=run_cipher())  # phones are stored encrypted
    with engine.connect() as connection:
        rows = connection.execute(
            select(Patient.phone, Message.due_at).join(Message, Message.patient_id == Patient.id)
        )
        due = {phone: at.replace(tzinfo=UTC).timestamp() for phone, at in rows}
    engine.dispose()
    return due


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def max_in_any_second(times: list[float]) -> int:
    """The most accepted in any window [t, t + 1 s), over every start t that is an acceptance."""
    ordered, best, j = sorted(times), 0, 0
    for i, t in enumerate(ordered):
        while j < len(ordered) and ordered[j] < t + 1.0:
            j += 1
        best = max(best, j - i)
    return best


def run(
    database_url: str,
    redis_url: str,
    count: int,
    *,
    latency: float = 0.15,
    send_rate: float = 10000.0,
    workers: int = 1,
    processes: int = 4,
    paced: float | None = None,
) -> dict[str, Any]:
    """One end-to-end run; `paced` makes the messages fall due at that rate instead of at once."""
    with work_folder() as name, scratch_database(database_url) as url:
        folder = Path(name)
        upgrade(url)
        seed(url, count)
        standin, standin_url = start_standin(folder, latency)
        env = worker_env(
            url,
            redis_url,
            standin_url,
            folder,
            CLINIC_SEND_RATE=str(send_rate),
            CLINIC_DISPATCH_INTERVAL="1",
            CLINIC_DISPATCH_BATCH="2000",
        )
        children: list[Child] = [standin]
        try:
            for n in range(workers):
                start_worker(f"worker{n}", env, folder, children, "--concurrency", str(processes))
            beat = start("beat", [sys.executable, "-m", "worker", "beat"], env, folder)
            children.append(beat)
            beat.wait_for("Configuration ->")
            t0 = make_due(url, count, paced)
            _say(f"{count} messages due{'' if paced is None else f' at {paced:g}/s'}; sending")
            _wait_accepted(standin_url, count, timeout=max(120.0, count / 50))
            accepted = standin_get(standin_url, "/_standin/messages")
            memory = {k: v for c in children[1:] for k, v in c.peak_rss_mb().items()}
            cpu = {c.name: c.cpu_seconds() for c in children}
        finally:
            for child in reversed(children):
                child.stop()
        extra = {"due_rate": paced, "workers": workers, "processes_per_worker": processes, "cpu_seconds": cpu}
        return _figures(accepted, _due_times(url), t0, count, memory) | extra


def _figures(
    accepted: list[dict[str, Any]], due: dict[str, float], t0: float, count: int, memory: dict[str, float]
) -> dict[str, Any]:
    per_phone: dict[str, int] = {}
    for record in accepted:
        per_phone[record["to"]] = per_phone.get(record["to"], 0) + 1
    times = [record["at"] for record in accepted]
    lateness = [record["at"] - due[record["to"]] for record in accepted]
    span = max(times) - t0
    _say(f"first accepted {min(times) - t0:.2f} s after due")
    return {
        "messages": count,
        "accepted": len(accepted),
        "duplicates": sum(1 for n in per_phone.values() if n > 1),
        "seconds": round(span, 2),
        "per_second": round(count / span, 1),
        "lateness_p50_s": round(statistics.median(lateness), 2),
        "lateness_p99_s": round(percentile(lateness, 99), 2),
        "lateness_max_s": round(max(lateness), 2),
        # Counted on arrival at the provider, as a provider's rate limit counts.
        "max_in_any_second": max_in_any_second([record["received"] for record in accepted]),
        "peak_rss_mb": memory,
    }
