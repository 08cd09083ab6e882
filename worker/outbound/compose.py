"""The text and Twilio parameters of one outbound message."""

from __future__ import annotations

from datetime import datetime, timedelta

from worker.db.models import Appointment, Message, Patient, SafetyAlert
from worker.enums import BEFORE_SESSION, FOR_STAFF
from worker.messages.templates import FALLBACK_LANGUAGE, format_when
from worker.questionnaires.texts import render as render_questionnaire
from worker.runtime import Runtime
from worker.safety.texts import alert_values
from worker.sms.base import OutboundSms

MAX_VALIDITY = timedelta(seconds=36000)  # Twilio's ceiling for ValidityPeriod


def compose(
    rt: Runtime,
    message: Message,
    patient: Patient | None,
    appointment: Appointment | None,
    now: datetime,
    alert: SafetyAlert | None = None,
) -> OutboundSms:
    settings = rt.settings
    to = message.to_number or (patient.phone if patient else "")
    # Staff texts are for staff: in the clinic's language and zone, whoever the patient is.
    for_patient = patient is not None and message.kind not in FOR_STAFF
    language = patient.language if for_patient and patient else FALLBACK_LANGUAGE
    zone = patient.timezone if for_patient and patient else settings.timezone
    values = {"clinic_name": settings.clinic_name, "clinic_phone": settings.clinic_phone}
    validity = settings.message_validity
    if message.run_id is not None:
        body = render_questionnaire(rt.catalogue, message.template, language, **values)
    else:
        when = ""
        if appointment is not None:
            when = format_when(appointment.start_at, zone, language, settings.timezone)
            if message.kind in BEFORE_SESSION:
                validity = min(validity, appointment.start_at - now)
        body = rt.templates.render(
            message.template,
            language,
            when=when,
            appointment_id=str(message.appointment_id or ""),
            reply_id=message.key.split(":")[1] if message.key.startswith("inbound:") else "",
            alert_id=str(message.alert_id or ""),
            **alert_values(alert, message.due_at),
            **values,
        )
    callback = f"{settings.public_url}/twilio/status" if settings.public_url else None
    seconds = int(min(validity, MAX_VALIDITY).total_seconds())
    return OutboundSms(to=to, body=body, status_callback=callback, validity_period=max(1, seconds))
