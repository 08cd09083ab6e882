"""Every inbound text is stored, then read for crisis language, in one transaction, before
the webhook answers: an alert never waits for a worker, a queue or the processing of the text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db.models import Patient
from worker.phones import normalise_sender
from worker.replies import inbound_id, store_inbound
from worker.safety import raise_alert
from worker.safety_phrases import CrisisPhrases
from worker.settings import Settings

CRISIS_LANGUAGE = "crisis_language"


@dataclass
class Stored:
    inbound_id: int | None
    new: bool
    urgent: list[int] = field(default_factory=list)  # safety texts to enqueue after commit


def store_and_screen(
    session: Session,
    settings: Settings,
    phrases: CrisisPhrases,
    form: Mapping[str, Sequence[str]],
    source: str,
    now: datetime,
) -> Stored:
    stored_id = store_inbound(session, form, source, now)
    if stored_id is None:  # Twilio retried it: stored and screened the first time
        return Stored(inbound_id(session, form["MessageSid"][-1]), False)
    # Screened from the request itself: the stored copy is encrypted and says the same.
    if phrases.find(_last(form, "Body")) is None:
        return Stored(stored_id, True)
    sender = normalise_sender(_last(form, "From"))
    patient = session.scalar(select(Patient).where(Patient.phone == sender)) if sender else None
    urgent = raise_alert(
        session,
        settings,
        source=CRISIS_LANGUAGE,
        now=now,
        patient=patient,
        reply_to=sender,
        inbound_id=stored_id,
    )
    return Stored(stored_id, True, urgent)


def _last(form: Mapping[str, Sequence[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[-1]
