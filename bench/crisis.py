"""Crisis texts during a burst: how soon a patient in danger and on-call are texted while
10,000 reminders are being sent.

Worker, beat and `clinic-worker web` run as in production against a scratch database and the
Twilio stand-in. The reminders fall due at once; when the stand-in has accepted a tenth of
them, patients post crisis texts through the signed webhook, a few a second. For each, the
time from the POST to the stand-in accepting the patient's crisis-resources text, and to it
accepting on-call's page, is measured on the same clock (the stand-in's acceptance time).
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bench._keys import run_cipher
from bench._procs import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    Child,
    free_port,
    standin_get,
    start,
    start_standin,
    start_worker,
    work_folder,
    worker_env,
)
from bench._scratch import scratch_database
from bench.pipeline import make_due, percentile, phone_of, seed
from worker.db.engine import make_engine
from worker.db.migrate import upgrade
from worker.db.models import Patient, SafetyAlert

PUBLIC_URL = "https://clinic.example.org"
ONCALL = "+12025550199"
POST_INTERVAL_SECONDS = 0.25
# Must-alert texts as patients write them (a sample of the labelled corpus's categories).
TEXTS = (
    "i dont want to be here anymore",
    "kms",
    "me voy a matar",
    "have pills saved up",
    "I wish I was dead",
    "ive been cutting again",
    "tengo ganas de morirme",
    "gonna jump off the bridge tonight",
)
_PAGE = re.compile(r"^SAFETY ALERT (\d+):")


def _say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def measure(database_url: str, redis_url: str, *, burst: int, crisis: int) -> dict[str, Any]:
    with work_folder() as name, scratch_database(database_url) as url:
        folder = Path(name)
        upgrade(url)
        seed(url, burst)
        standin, standin_url = start_standin(folder, 0.15)
        env = worker_env(
            url,
            redis_url,
            standin_url,
            folder,
            CLINIC_DISPATCH_INTERVAL="1",
            CLINIC_DISPATCH_BATCH="2000",
            CLINIC_SEND_RATE="10000",
            CLINIC_PUBLIC_URL=PUBLIC_URL,
            CLINIC_ONCALL_NUMBER=ONCALL,
        )
        children: list[Child] = [standin]
        try:
            posted = _run(url, env, folder, children, standin_url, burst, crisis)
            accepted = standin_get(standin_url, "/_standin/messages")
        finally:
            for child in reversed(children):
                child.stop()
        return _figures(url, posted, accepted, burst)


def _run(
    url: str,
    env: dict[str, str],
    folder: Path,
    children: list[Child],
    standin_url: str,
    burst: int,
    crisis: int,
) -> dict[str, float]:
    start_worker("worker", env, folder, children, "--concurrency", "4")
    # As docker-compose.yml runs it: a small worker on the urgent queue alone, so a burst's
    # send batches never stand between a crisis text and its answer.
    start_worker("urgent", env, folder, children, "--urgent-only", "--concurrency", "2")
    beat = start("beat", [sys.executable, "-m", "worker", "beat"], env, folder)
    children.append(beat)
    port = free_port()
    web = start("web", [sys.executable, "-m", "worker", "web", "--port", str(port)], env, folder)
    children.append(web)
    beat.wait_for("Configuration ->")
    _wait_healthy(port, web)
    make_due(url, burst, None)
    _wait_for_accepted(standin_url, max(1, burst // 10))
    phones = [phone_of(i) for i in range(burst, burst - crisis, -1)]
    posted = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for n, phone in enumerate(phones):
            posted[phone] = _post(client, phone, TEXTS[n % len(TEXTS)])
            time.sleep(POST_INTERVAL_SECONDS)
    _say(f"{crisis} crisis texts posted during the burst; waiting for their texts")
    _wait_for_accepted(standin_url, burst + 2 * crisis, timeout=max(120.0, burst / 50))
    return posted


def _post(client: httpx.Client, phone: str, body: str) -> float:
    sid = "SM" + uuid.uuid4().hex
    form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": phone, "To": FROM_NUMBER,
            "Body": body, "NumMedia": "0"}  # fmt: skip
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + "/twilio/sms", form)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    at = time.time()
    response = client.post("/twilio/sms", content=urlencode(form), headers=headers)
    response.raise_for_status()
    return at


def _wait_healthy(port: int, web: Child, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"web did not become healthy:\n{web.output()[-2000:]}")


def _wait_for_accepted(standin_url: str, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if standin_get(standin_url, "/_standin/count")["accepted"] >= count:
            return
        time.sleep(0.05)
    raise RuntimeError(f"fewer than {count} texts accepted in {timeout:.0f} s")


def _figures(
    url: str, posted: dict[str, float], accepted: list[dict[str, Any]], burst: int
) -> dict[str, Any]:
    phone_of_alert = _alert_phones(url)
    to_patient, to_oncall, safety_at = [], [], []
    for record in accepted:
        body, to = record.get("body") or "", record["to"]
        if to in posted and "988" in body:
            to_patient.append(record["at"] - posted[to])
            safety_at.append(record["at"])
        page = _PAGE.match(body) if to == ONCALL else None
        if page and phone_of_alert.get(int(page.group(1))) in posted:
            to_oncall.append(record["at"] - posted[phone_of_alert[int(page.group(1))]])
            safety_at.append(record["at"])
    # How much of the burst was still to come when the last safety text went out: proof
    # that they were measured during it, not after.
    last = max(safety_at, default=0.0)
    reminders_after = sum(
        1 for r in accepted if r["at"] > last and "988" not in (r.get("body") or "") and r["to"] != ONCALL
    )
    return {
        "burst": burst,
        "crisis_texts": len(posted),
        "patient_texts": len(to_patient),
        "oncall_texts": len(to_oncall),
        "reminders_accepted_after_last_alert_text": reminders_after,
        "patient": _spread(to_patient),
        "oncall": _spread(to_oncall),
    }


def _alert_phones(url: str) -> dict[int, str]:
    engine = make_engine(url, cipher=run_cipher())  # phones are stored encrypted
    with engine.connect() as connection:
        rows = connection.execute(
            select(SafetyAlert.id, Patient.phone).join(Patient, SafetyAlert.patient_id == Patient.id)
        )
        found = {alert_id: phone for alert_id, phone in rows}
    engine.dispose()
    return found


def _spread(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"p50_s": float("nan"), "p99_s": float("nan"), "max_s": float("nan")}
    return {
        "p50_s": round(percentile(seconds, 50), 2),
        "p99_s": round(percentile(seconds, 99), 2),
        "max_s": round(max(seconds), 2),
    }
