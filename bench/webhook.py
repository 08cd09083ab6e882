"""Throughput and latency of the inbound-SMS webhook, served as in production.

`clinic-worker web` runs as a child process against a scratch database and the given Redis
(its tasks go to a queue of its own, deleted afterwards). A load generator on loopback sends
Twilio-signed `POST /twilio/sms` requests, each with a new MessageSid, so each one is a
committed insert plus a Celery enqueue. Requests are signed and serialised before the clock
starts, and sent over raw keep-alive asyncio streams: the generator costs a few microseconds
per request, so on a small machine the server, not the generator, is what gets measured.

Importing this module does nothing; `measure()` prints progress lines to stderr only.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any
from urllib.parse import urlencode

import httpx
import redis
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator

from bench._keys import run_cipher, run_keys
from bench._procs import ROOT
from bench._scratch import scratch_database
from worker.db.engine import make_engine
from worker.db.models import InboundMessage, Patient, utcnow

PUBLIC_URL = "https://clinic.example.org"
PATH = "/twilio/sms"
ACCOUNT_SID = "AC" + "b" * 32
CLINIC_NUMBER = "+12025550100"
PATIENTS = 200
LEAD = 1.0  # seconds between starting an open-loop run and its first request being due
WARMUP = 200  # untimed: fills the server's connection pool and SQLAlchemy's statement cache
BODIES = ("C", "R", "Yes, see you then", "Thanks!", "Running 10 minutes late")


@dataclass
class _Run:
    """What one timed run saw, from the generator's side and the server's."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    stored: int = 0
    connections: int | None = None
    load: float = 0.0  # the machine's 1-minute load average as the run started


def measure(
    database_url: str,
    redis_url: str,
    requests: int = 5000,
    concurrency: int = 32,
    offered_rates: tuple[float, ...] = (250.0, 500.0, 1000.0),
    web_workers: int = 2,
) -> dict[str, Any]:
    """Serve the webhook from `clinic-worker web` and drive it with `requests` signed requests.

    The run uses a scratch database beside `database_url` (see bench._scratch); the given one
    is not touched. Two phases: `concurrency` requests in flight back to back (the most the
    server does), then requests arriving at each of `offered_rates` a second whatever the answers, as
    Twilio's do (latency measured from each request's scheduled time, so a slow answer that
    delays the next request counts against the server). `web_workers` is `web --workers`.
    In the first phase `concurrency` requests are in flight at once, each on its own keep-alive
    connection.
    """
    with (
        tempfile.TemporaryDirectory(prefix="clinic-bench-web-") as name,
        scratch_database(database_url) as url,
    ):
        folder = Path(name)
        token = secrets.token_urlsafe(24)  # the server checks every signature against it
        env = _server_env(url, redis_url, token, folder)
        command = [sys.executable, "-m", "worker", "db", "upgrade"]
        subprocess.run(command, env=env, cwd=folder, check=True, capture_output=True)
        phones = _add_patients(url)
        port = _free_port()
        total = WARMUP + requests * (1 + len(offered_rates))
        payloads = [_signed_request(port, token, i, phones) for i in range(total)]
        try:
            run, paced = _serve_and_drive(
                env, folder, port, url, payloads, concurrency, offered_rates, web_workers
            )
        finally:
            _drop_queue(redis_url, env["CLINIC_QUEUE_NAME"])
    report = _report(run, requests, concurrency, make_url(database_url).get_backend_name())
    offered = [_paced_report(p, rate) for p, rate in zip(paced, offered_rates, strict=True)]
    return report | {"web_workers": web_workers, "offered": offered}


def _serve_and_drive(
    env: dict[str, str],
    folder: Path,
    port: int,
    url: str,
    payloads: list[bytes],
    concurrency: int,
    offered_rates: tuple[float, ...],
    web_workers: int,
) -> tuple[_Run, list[_Run]]:
    log = folder / "web.log"
    server = _start_server(env, folder, port, log, web_workers)
    try:
        _wait_healthy(port, server, log)
        _say(f"server up on port {port}; {WARMUP} warm-up requests")
        asyncio.run(_drive(port, payloads[:WARMUP], concurrency, _Run()))
        stored, connections = _database_figures(url)
        cpu = _cpu_seconds(server.pid)
        _say(f"{(len(payloads) - WARMUP) // (1 + len(offered_rates))} requests, {concurrency} in flight")
        share = (len(payloads) - WARMUP) // (1 + len(offered_rates))
        half = WARMUP + share
        run = asyncio.run(_drive(port, payloads[WARMUP:half], concurrency, _Run(load=os.getloadavg()[0])))
        run.server_cpu = _cpu_seconds(server.pid) - cpu
        paced = []
        for n, rate in enumerate(offered_rates):
            _say(f"{share} requests offered at {rate:g}/s")
            batch = payloads[half + n * share : half + (n + 1) * share]
            paced.append(asyncio.run(_offer(port, batch, rate, _Run(load=os.getloadavg()[0]))))
    finally:
        _stop(server)
    stored_after, connections_after = _database_figures(url)
    run.stored = stored_after - stored - sum(len(p.latencies) - p.errors for p in paced)
    if connections is not None and connections_after is not None:
        run.connections = connections_after - connections
    return run, paced


def _say(line: str) -> None:
    sys.stderr.write(f"webhook: {line}\n")
    sys.stderr.flush()


def _server_env(database_url: str, redis_url: str, token: str, folder: Path) -> dict[str, str]:
    """Production-like settings: the defaults, plus what `web` requires. No CLINIC_* leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env.update(
        CLINIC_DATABASE_URL=database_url,
        CLINIC_REDIS_URL=redis_url,
        CLINIC_PUBLIC_URL=PUBLIC_URL,
        CLINIC_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        CLINIC_TWILIO_AUTH_TOKEN=token,
        CLINIC_CLINIC_PHONE="(202) 555-0100",  # required: crisis texts give it
        CLINIC_QUEUE_NAME=f"clinic-bench-{uuid.uuid4().hex[:8]}",
        # An empty secrets folder: /run/secrets on this machine must not change the settings.
        CLINIC_SECRETS_DIR=str(folder),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),  # this checkout's worker, whatever else is installed
    )
    env.update(run_keys().env())  # the keys _add_patients indexed the senders' phones with
    return env


def _add_patients(database_url: str) -> list[str]:
    """Known senders: half the requests come from a patient's phone, half from strangers.
    Stored encrypted and indexed under the server's keys, so it finds them as in production."""
    cipher = run_cipher()
    phones = [f"+1202555{2000 + i:04d}" for i in range(PATIENTS)]
    rows = [
        {"name": f"Patient {i}", "phone": phone, "phone_index": cipher.index(phone),
         "timezone": "America/New_York", "language": "en", "sms_consent": True, "opted_out": False,
         "created_at": utcnow()}
        for i, phone in enumerate(phones)
    ]  # fmt: skip
    engine = make_engine(database_url, cipher=cipher)
    try:
        with engine.begin() as connection:
            connection.execute(insert(Patient), rows)
    finally:
        engine.dispose()
    return phones


def _signed_request(port: int, token: str, number: int, phones: list[str]) -> bytes:
    """One complete HTTP/1.1 request, signed as Twilio signs it, ready to write to a socket."""
    sid = "SM" + uuid.uuid4().hex
    sender = phones[number % len(phones)] if number % 2 == 0 else f"+1303555{number % 10000:04d}"
    form = {
        "ToCountry": "US", "ToState": "DC", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "WASHINGTON",
        "FromZip": "", "SmsSid": sid, "FromState": "CO", "SmsStatus": "received", "FromCity": "DENVER",
        "Body": BODIES[number % len(BODIES)], "FromCountry": "US", "To": CLINIC_NUMBER, "ToZip": "",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
        "ApiVersion": "2010-04-01",
    }  # fmt: skip
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + PATH, form)
    body = urlencode(form).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(
    env: dict[str, str], folder: Path, port: int, log: Path, workers: int
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "worker", "web", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, cwd=folder, stdout=output, stderr=subprocess.STDOUT)


def _wait_healthy(port: int, server: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"clinic-worker web did not become healthy; its output:\n{log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def _drive(port: int, payloads: list[bytes], concurrency: int, run: _Run) -> _Run:
    pending = iter(payloads)  # shared by all connections; safe, as the event loop is one thread
    cpu, started = time.process_time(), perf_counter()
    await asyncio.gather(*(_connection(port, pending, run) for _ in range(concurrency)))
    run.seconds, run.client_cpu = perf_counter() - started, time.process_time() - cpu
    return run


async def _connection(port: int, pending: Iterator[bytes], run: _Run) -> None:
    """One keep-alive connection sending requests back to back; reconnects after a failure."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for payload in pending:
            started = perf_counter()
            try:
                writer.write(payload)
                status = await _response_status(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                run.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            run.latencies.append(perf_counter() - started)
            run.errors += status != 200
    finally:
        writer.close()


async def _offer(port: int, payloads: list[bytes], rate: float, run: _Run) -> _Run:
    """Send each request at its own time (open loop), on any idle keep-alive connection."""
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(64):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    # The first request is due LEAD seconds from now: creating thousands of tasks takes the
    # generator ~0.1 s, which would otherwise count as the server's latency for the first
    # requests (it showed as a ~100 ms stall at the start of each rate, and set the p99).
    started = perf_counter() + LEAD

    async def one(n: int, payload: bytes) -> None:
        scheduled = started + n / rate
        await asyncio.sleep(max(0.0, scheduled - perf_counter()))
        reader, writer = await idle.get()
        try:
            writer.write(payload)
            status = await _response_status(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            run.errors += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            run.errors += status != 200
            run.latencies.append(perf_counter() - scheduled)
        idle.put_nowait((reader, writer))

    await asyncio.gather(*(one(n, payload) for n, payload in enumerate(payloads)))
    run.seconds = perf_counter() - started
    while not idle.empty():
        idle.get_nowait()[1].close()
    return run


def _paced_report(run: _Run, rate: float) -> dict[str, Any]:
    ordered = sorted(run.latencies) or [0.0]

    def ms(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

    done = len(run.latencies)
    return {"rate": rate, "requests": done + run.errors, "answered_per_second": round(done / run.seconds, 1),
            "p50_ms": ms(0.50), "p99_ms": ms(0.99), "max_ms": ms(1.0), "errors": run.errors}  # fmt: skip


async def _response_status(reader: asyncio.StreamReader) -> int:
    """Read one response (the server answers with Content-Length) and return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def _database_figures(database_url: str) -> tuple[int, int | None]:
    """Inbound rows stored, and sessions PostgreSQL (14+) has started on the database so far.

    The second shows pool churn: a web process whose connection pool is smaller than its
    thread pool opens and closes database connections under load. None on SQLite.
    """
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    if postgres:
        time.sleep(1.0)  # backends flush their statistics at most once a second
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = int(connection.scalar(select(func.count()).select_from(InboundMessage)) or 0)
            if not postgres:
                return stored, None
            query = text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            try:
                sessions = connection.scalar(query)
            except SQLAlchemyError:
                return stored, None  # PostgreSQL 13 and older have no sessions column
            return stored, int(sessions) - 1  # not counting this one
    finally:
        engine.dispose()


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process and its children (uvicorn's workers), from /proc."""
    from bench._procs import _children

    return sum(_own_cpu(p) for p in [pid, *_children(pid)])


def _own_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drop_queue(redis_url: str, queue: str) -> None:
    """Delete the run's Celery queues and bindings: nobody will ever consume those tasks."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _report(run: _Run, requests: int, concurrency: int, database: str) -> dict[str, Any]:
    ordered = sorted(run.latencies)

    def ms(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2) if ordered else 0.0

    return {
        "database": database,
        "requests": requests,
        "concurrency": concurrency,
        "seconds": round(run.seconds, 2),
        "requests_per_second": round(requests / run.seconds, 1),
        "p50_ms": ms(0.50),
        "p99_ms": ms(0.99),
        "max_ms": ms(1.0),
        "errors": run.errors,
        "rows_stored": run.stored,
        "rows_match": run.stored == requests,
        # The generator's CPU next to the server's shows which one is the bottleneck.
        "client_cpu_s": round(run.client_cpu, 2),
        "server_cpu_s": round(run.server_cpu, 2),
        "server_cpu_ms_per_request": round(run.server_cpu * 1000 / requests, 2),
        # New PostgreSQL connections during the timed part (None on SQLite); see _database_figures.
        "db_connections_opened": run.connections,
        # Other work on the machine (a test suite, another benchmark) slows every figure above.
        "load_average_1m": round(run.load, 2),
    }
