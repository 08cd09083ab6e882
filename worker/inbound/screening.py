"""Every inbound text is stored, then read for crisis language, in one transaction, before
the webhook answers: an alert never waits for a worker, a queue or the processing of the text.

`screen_text` is the one reading of a text: the webhook, reconciliation and
`clinic-worker replies classify` all call it, so what a clinical lead checks on the command
line is what the worker does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from worker.clinic.queries import patient_with_phone
from worker.inbound.store import inbound_ids, store_inbound_many
from worker.language.screening import Screener, Screening
from worker.lib.phones import normalise_sender
from worker.safety.alerts import crisis_trigger, raise_alert
from worker.settings import Settings


@dataclass
class Stored:
    inbound_id: int | None
    new: bool
    urgent: list[int] = field(default_factory=list)  # safety texts to enqueue after commit


def store_and_screen(
    session: Session,
    settings: Settings,
    screener: Screener,
    form: Mapping[str, Sequence[str]],
    source: str,
    now: datetime,
) -> Stored:
    return store_and_screen_many(session, settings, screener, [form], source, now)[0]


def store_and_screen_many(
    session: Session,
    settings: Settings,
    screener: Screener,
    forms: Sequence[Mapping[str, Sequence[str]]],
    source: str,
    now: datetime,
) -> list[Stored]:
    """Store these texts in one statement and screen the new ones: one Stored per form.

    A SID stored before (a Twilio retry), or repeated in `forms`, was screened the first
    time: it comes back with new=False and raises nothing again.
    """
    new = store_inbound_many(session, forms, source, now)
    sids = [form["MessageSid"][-1] for form in forms]
    ids = dict(new)
    if len(new) < len(sids):
        ids.update(inbound_ids(session, [sid for sid in sids if sid not in new]))
    results: list[Stored] = [Stored(ids.get(sid), False) for sid in sids]
    screened: set[str] = set()
    # In sender order: an alert locks its patient, and two web processes screening batches
    # from the same two patients then take the locks in the same order (no deadlock).
    for n in sorted(range(len(forms)), key=lambda i: _last(forms[i], "From")):
        sid = sids[n]
        if sid in new and sid not in screened:
            screened.add(sid)
            results[n] = _screen(session, settings, screener, forms[n], new[sid], now)
    return results


def _screen(
    session: Session,
    settings: Settings,
    screener: Screener,
    form: Mapping[str, Sequence[str]],
    stored_id: int,
    now: datetime,
) -> Stored:
    # Screened from the request itself: the stored copy is encrypted and says the same.
    finding = screen_text(screener, _last(form, "Body"))
    if not finding.alert:
        return Stored(stored_id, True)
    sender = normalise_sender(_last(form, "From"))
    patient = patient_with_phone(session, sender)
    trigger = crisis_trigger(finding.category, finding.rule, stored_id)
    urgent = raise_alert(session, settings, trigger, now=now, patient=patient, reply_to=sender)
    return Stored(stored_id, True, urgent)


def screen_text(screener: Screener, body: str, language: str | None = None) -> Screening:
    """What the worker makes of one text: alert or not, the category and rule that decided."""
    return screener.screen(body, language)


def _last(form: Mapping[str, Sequence[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[-1]
