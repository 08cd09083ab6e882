"""The demo's patient: texts sent the way Twilio's webhook delivers them, and waiting for the
worker to answer.

A text goes through the same service the webhook calls (`store_and_screen`: stored and read
for crisis language in one transaction), its safety texts are queued at once and the text
is handed to a worker, as `POST /twilio/sms` does. Only the HTTP request and its signature
are left out.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.db.engine import transaction
from worker.db.models import InboundMessage, utcnow
from worker.enums import PENDING_MESSAGE, MessageStatus
from worker.inbound.screening import store_and_screen
from worker.jobs.queueing import enqueue_inbound, enqueue_sends
from worker.jobs.tasks import dispatch
from worker.language.screening import Screener
from worker.messages.queries import list_messages
from worker.safety.notices import told_about
from worker.settings import Settings

NOT_YET_SENT = (*PENDING_MESSAGE, MessageStatus.SENDING)
POLL_SECONDS = 0.3


class TooSlow(Exception):
    """The demo ran out of time waiting for the worker."""


@dataclass
class Demo:
    """What every scene of the demo shares."""

    settings: Settings
    sessions: Any
    screener: Screener
    patient_id: int
    phone: str
    deadline: float  # time.monotonic() by which the demo must be done

    def patient_texts(self, body: str) -> int:
        """The patient sends `body`: stored, screened, handed to a worker. Its inbound id."""
        form = {
            "MessageSid": [f"SM{uuid.uuid4().hex}"],
            "AccountSid": [self.settings.twilio_account_sid or "ACdemo"],
            "From": [self.phone],
            "To": [self.settings.clinic_phone or ""],
            "Body": [body],
            "NumMedia": ["0"],
        }
        with transaction(self.sessions) as session:
            stored = store_and_screen(session, self.settings, self.screener, form, "webhook", utcnow())
        assert stored.inbound_id is not None  # a new SID is always stored
        # Committed first, then queued: what the webhook does after its commit.
        enqueue_sends(self.settings, stored.urgent, urgent=True)
        enqueue_inbound(self.settings, [stored.inbound_id])
        return stored.inbound_id

    def wait_for(self, done: Callable[[], bool]) -> None:
        """Run the dispatcher (what beat would start) until `done()`, or TooSlow at the deadline."""
        while time.monotonic() < self.deadline:
            dispatch()
            if done():
                return
            time.sleep(POLL_SECONDS)
        raise TooSlow

    def settled(self, inbound_id: int | None = None, alert_id: int | None = None) -> bool:
        """The text was read and everything due for the patient (and about the alert) went out."""
        now = utcnow()
        with self.sessions() as session:
            if inbound_id is not None:
                reply = session.get(InboundMessage, inbound_id)
                if reply is None or reply.processed_at is None:
                    return False
            rows, _total = list_messages(session, patient_id=self.patient_id)
            waiting = [r for r in rows if r.message.status in NOT_YET_SENT and r.message.due_at <= now]
            staff = told_about(session, [alert_id])[alert_id] if alert_id is not None else []
        return not waiting and all(t.status not in NOT_YET_SENT for t in staff)

    def answer(self, body: str) -> int:
        """The patient texts `body`; returns once the worker has read it and answered."""
        inbound_id = self.patient_texts(body)
        self.wait_for(lambda: self.settled(inbound_id))
        return inbound_id
