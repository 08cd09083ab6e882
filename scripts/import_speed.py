"""How fast `clinic-worker appointments import` writes a large CSV, on SQLite and PostgreSQL.

    python scripts/import_speed.py [ROWS] [sqlite|postgresql]

Writes ROWS appointments (default 50,000; fictional people, one new patient per row, numbers
+1 AAA 555 NNNN across several area codes, all valid for the phonenumbers library) to a
CSV file, then times the real command in a child process, with the default reminders (48 h
and 2 h), quiet hours and follow-ups: on a new SQLite file, and on a new PostgreSQL database
when one answers at CLINIC_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432; the database
is dropped afterwards). Prints the wall time and rows a second of each, and the CPU time
the command itself used (user + system; PostgreSQL's own work not included), which moves
less than the wall time when other processes share the machine. A benchmark, not a test:
the figures depend on the machine and its load.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import text

from worker.db.engine import make_engine
from worker.db.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "CLINIC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
AREAS = ("202", "212", "312", "415", "617", "713", "206", "303", "404", "512")
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "")


def write_csv(path: Path, rows: int) -> None:
    if rows > len(AREAS) * 10_000:
        raise SystemExit(f"at most {len(AREAS) * 10_000} rows (one distinct number each)")
    first = datetime.now().replace(second=0, microsecond=0) + timedelta(days=3)
    with path.open("w", encoding="utf-8") as out:
        out.write("name,phone,start,duration,kind,timezone,language\n")
        for n in range(rows):
            moment = first + timedelta(minutes=11 * n)
            if moment.hour in (1, 2):  # the hours the clocks skip or repeat: a start there is refused
                moment += timedelta(hours=2)
            start = moment.isoformat(timespec="minutes")
            phone = f"+1 {AREAS[n % len(AREAS)]} 555 {n // len(AREAS):04d}"
            zone = ZONES[n % len(ZONES)]
            out.write(f"Test Person {n},{phone},{start},60,session,{zone},{'es' if n % 7 == 0 else 'en'}\n")


def timed_import(url: str, csv_path: Path) -> tuple[float, float, dict[str, object]]:
    """(wall seconds, the command's CPU seconds, its --json report)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env.update(
        CLINIC_DATABASE_URL=url,
        CLINIC_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        CLINIC_BLIND_INDEX_KEYS=Fernet.generate_key().decode(),
        CLINIC_TIMEZONE="America/New_York",
    )
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "worker", "appointments", "import", str(csv_path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr.strip()}")
    report: dict[str, object] = json.loads(done.stdout)
    return elapsed, cpu, report


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def show(name: str, rows: int, elapsed: float, cpu: float, report: dict[str, object]) -> None:
    print(
        f"{name:<10} {rows} rows in {elapsed:.1f} s: {rows / elapsed:,.0f} rows/s, "
        f"CPU {cpu:.1f} s (imported {report['imported']}, new patients {report['patients_created']})"
    )


def on_sqlite(folder: Path, csv_path: Path, rows: int) -> None:
    url = f"sqlite:///{folder / 'import.sqlite3'}"
    upgrade(url)
    show("SQLite", rows, *timed_import(url, csv_path))


def on_postgres(csv_path: Path, rows: int) -> None:
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2})
    try:
        with admin.connect():
            pass
    except Exception:
        print("PostgreSQL not reachable: skipped")
        return
    name = f"cw_import_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        show("PostgreSQL", rows, *timed_import(url, csv_path))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str]) -> int:
    rows = int(argv[0]) if argv else 50_000
    only = argv[1] if len(argv) > 1 else None  # one database, to compare runs on it alone
    if only not in (None, "sqlite", "postgresql"):
        raise SystemExit(f"unknown database {only!r}: sqlite or postgresql")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "appointments.csv"
        write_csv(csv_path, rows)
        if only in (None, "sqlite"):
            on_sqlite(folder, csv_path, rows)
        if only in (None, "postgresql"):
            on_postgres(csv_path, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
