"""The usual design, for reference: one Celery task per reminder (an ETA task at its due
time), one blocking Twilio call per task, a prefork pool. Also a no-op task, to show what
Celery and Redis alone cost on this machine.

Run as a Celery app (`celery -A bench.usual worker`) by bench.reference; configured from
BENCH_* variables so that it shares nothing with the worker under test.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from sqlalchemy import select, update
from twilio.rest import Client

app = Celery("bench_usual")
app.conf.update(
    broker_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    task_default_queue=os.environ.get("BENCH_QUEUE", "bench-usual"),
    task_ignore_result=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)
_state: dict[str, Any] = {}


def _resources() -> dict[str, Any]:
    """Made in the pool process after fork, once."""
    if not _state:
        import redis

        from bench._procs import RedirectingHttpClient
        from worker.db.engine import make_engine, session_factory
        from worker.lib.crypto import Cipher

        # The run's keys (bench._keys), as the worker under test gets them: phones are stored
        # encrypted, and decrypting one per send is work the usual design would do too.
        cipher = Cipher([os.environ["BENCH_ENCRYPTION_KEYS"]], [os.environ["BENCH_BLIND_INDEX_KEYS"]])
        engine = make_engine(os.environ["BENCH_DATABASE_URL"], cipher=cipher)
        _state["sessions"] = session_factory(engine)
        _state["redis"] = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
        http = RedirectingHttpClient(os.environ["BENCH_TWILIO_URL"])
        account, token = os.environ["BENCH_ACCOUNT_SID"], os.environ["BENCH_AUTH_TOKEN"]
        _state["twilio"] = Client(account, token, http_client=http)
    return _state


@app.task(name="bench.usual.send")
def send(message_id: int) -> None:
    """What a typical reminder task does: load, send (blocking), record."""
    from worker.db.models import Message, Patient

    state = _resources()
    with state["sessions"].begin() as session:
        message = session.get(Message, message_id)
        phone = session.scalar(select(Patient.phone).where(Patient.id == message.patient_id))
        body = "Reminder: see you soon"
        sid = state["twilio"].messages.create(to=phone, from_="+12025550100", body=body).sid
        session.execute(update(Message).where(Message.id == message_id).values(status="sent", twilio_sid=sid))


@app.task(name="bench.usual.noop")
def noop() -> None:
    _resources()["redis"].incr(os.environ["BENCH_QUEUE"] + ":done")
