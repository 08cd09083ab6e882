"""Child processes for the benchmarks: the Twilio stand-in, worker and beat, and their memory."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twilio.http.http_client import TwilioHttpClient

from bench._keys import run_keys

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"  # noqa: S105 - the stand-in's, not a secret
FROM_NUMBER = "+12025550100"


@contextlib.contextmanager
def work_folder() -> Iterator[str]:
    """A folder for the run's logs; kept (and named on stderr) when BENCH_KEEP is set."""
    name = tempfile.mkdtemp(prefix="clinic-bench-")
    try:
        yield name
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"  logs kept in {name}", file=sys.stderr)
        else:
            shutil.rmtree(name, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_env(
    database_url: str, redis_url: str, standin_url: str, folder: Path, **extra: str
) -> dict[str, str]:
    """Production defaults plus what a benchmark run sets; nothing from the caller's CLINIC_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env.update(
        CLINIC_DATABASE_URL=database_url,
        CLINIC_REDIS_URL=redis_url,
        CLINIC_QUEUE_NAME=f"clinic-bench-{uuid.uuid4().hex[:8]}",
        CLINIC_SMS_BACKEND="twilio",
        CLINIC_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        CLINIC_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        CLINIC_TWILIO_FROM_NUMBER=FROM_NUMBER,
        CLINIC_TWILIO_API_URL=standin_url,
        CLINIC_CLINIC_PHONE="(202) 555-0100",  # required: crisis texts give it
        CLINIC_QUIET_HOURS="off",  # a benchmark run at 3 a.m. must still send
        CLINIC_FOLLOWUP_PLAN="none",
        CLINIC_REMINDER_OFFSETS="1h",
        CLINIC_SECRETS_DIR=str(folder),  # empty: /run/secrets must not change the settings
        CLINIC_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(run_keys().env())  # the keys the seed encrypted and indexed its patients with
    env.update(extra)
    return env


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: {needle!r} not seen:\n{self.output()[-2000:]}")

    def peak_rss_mb(self) -> dict[str, float]:
        """Peak resident memory (VmHWM) of this process and each of its children, in MB."""
        pids = [self.process.pid, *_children(self.process.pid)]
        return {f"{self.name}[{n}]" if n else self.name: _hwm_mb(pid) for n, pid in enumerate(pids)}

    def cpu_seconds(self) -> float:
        """CPU time used so far by this process and its children (user + system)."""
        return round(sum(_cpu(pid) for pid in [self.process.pid, *_children(self.process.pid)]), 2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, args: list[str], env: dict[str, str], folder: Path) -> Child:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    return Child(name, process, log)


def start_worker(name: str, env: dict[str, str], folder: Path, started: list[Child], *args: str) -> Child:
    """Start a worker, add it to `started` (so it is stopped whatever happens), wait for it."""
    command = [sys.executable, "-m", "worker", "worker", "--hostname", f"{name}@%h", *args]
    child = start(name, command, env, folder)
    started.append(child)
    # At log level WARNING "ready" is not printed; the banner is, just before the consumer
    # connects, and the extra seconds cover that.
    child.wait_for("[queues]")
    time.sleep(3)
    return child


def start_standin(folder: Path, latency: float) -> tuple[Child, str]:
    port = free_port()
    args = [sys.executable, "-m", "tests.twilio_standin", "--port", str(port), "--latency", str(latency)]
    args += ["--account-sid", ACCOUNT_SID, "--auth-token", AUTH_TOKEN, "--no-validate", "--quiet"]
    child = start("standin", args, dict(os.environ, PYTHONPATH=str(ROOT)), folder)
    child.wait_for("Twilio stand-in on")
    return child, f"http://127.0.0.1:{port}"


def standin_get(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=30) as response:  # noqa: S310 - our stand-in's http URL
        return json.loads(response.read())


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The plain twilio HTTP client, pointed at the stand-in: the usual design's client."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=10)
        self._base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, url.replace("https://api.twilio.com", self._base_url), *args, **kwargs)
