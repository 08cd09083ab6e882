"""Statuses and kinds, each an Enum, stored in the database as their values.

They are StrEnums: a value read back from the database compares equal to its member, so
rows written before these were Enums need no migration.
"""

from __future__ import annotations

import enum


class AppointmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    RESCHEDULE_REQUESTED = "reschedule_requested"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


# Appointments in these states still get their reminders.
ACTIVE_APPOINTMENT = (
    AppointmentStatus.SCHEDULED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.RESCHEDULE_REQUESTED,
)


class MessageStatus(enum.StrEnum):
    PLANNED = "planned"  # waiting for its due time
    QUEUED = "queued"  # claimed by the dispatcher, a send task is on the queue
    SENDING = "sending"  # a worker holds it and is talking to the provider
    SENT = "sent"  # the provider accepted it (we hold its SID)
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"  # permanent error or retries exhausted; error_code says why
    AMBIGUOUS = "ambiguous"  # may or may not have reached the provider; never resent blindly
    CANCELLED = "cancelled"  # appointment changed or patient opted out before sending
    # Not sent, and reason says why: planned so (no consent, opted out, quiet hours leave no
    # time), found not sendable when re-checked at send time, or "superseded" by a later one.
    SKIPPED = "skipped"


PENDING_MESSAGE = (MessageStatus.PLANNED, MessageStatus.QUEUED)
FINAL_MESSAGE = (
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
    MessageStatus.CANCELLED,
    MessageStatus.SKIPPED,
)


class RunStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"  # every item answered; scored
    PARTIAL = "partial"  # finished with an item left unanswered; kept, not scored
    EXPIRED = "expired"  # no reply after the nudge
    STOPPED = "stopped"  # the patient opted out mid-way


class MessageKind(enum.StrEnum):
    """Kinds of outbound message; the rules that differ by kind are the sets below."""

    REMINDER = "reminder"  # before a session
    CHECKIN = "checkin"  # starts a questionnaire after a session (or on request)
    QUESTION = "question"  # the next question, a re-ask or the closing: an answer to the patient
    NUDGE = "nudge"  # one reminder to answer, after a silence
    KEYWORD_REPLY = "keyword_reply"  # the answer to STOP, START or HELP
    REPLY = "reply"  # the answer to C or R
    STAFF_NOTICE = "staff_notice"  # to the front desk
    SAFETY = "safety"  # crisis resources to the patient
    SAFETY_NOTICE = "safety_notice"  # the alert to on-call


# Answers to STOP/START/HELP and safety texts go out whatever the consent (a STOP must be
# confirmed, HELP answered, a patient in crisis answered); staff texts go to staff.
IGNORES_CONSENT = frozenset(
    {MessageKind.KEYWORD_REPLY, MessageKind.STAFF_NOTICE, MessageKind.SAFETY, MessageKind.SAFETY_NOTICE}
)
# Texts about an upcoming appointment: pointless once it started or was cancelled.
BEFORE_SESSION = frozenset({MessageKind.REMINDER, MessageKind.REPLY})
# Texts after a session: not for cancelled or no-show sessions; a longer grace.
AFTER_SESSION = frozenset({MessageKind.CHECKIN, MessageKind.NUDGE})
# Texts we start ourselves (not answers to the patient): these respect quiet hours.
OURS_TO_START = frozenset({MessageKind.REMINDER, MessageKind.CHECKIN, MessageKind.NUDGE})
# Safety: never stale, never rate limited, on the urgent queue.
URGENT = frozenset({MessageKind.SAFETY, MessageKind.SAFETY_NOTICE})
# Texts for staff, not patients: in the clinic's language and zone.
FOR_STAFF = frozenset({MessageKind.STAFF_NOTICE, MessageKind.SAFETY_NOTICE})


class AlertCategory(enum.StrEnum):
    """Why an alert was raised. The first five are the crisis-language rules' categories."""

    PLAN_OR_MEANS = "plan_or_means"
    INTENT = "intent"
    IDEATION = "ideation"
    SELF_HARM = "self_harm"
    PASSIVE_IDEATION = "passive_ideation"
    SAFETY_ITEM = "safety_item"  # a questionnaire's safety item (PHQ-9 item 9) not clearly 0
    UNANSWERED_SAFETY_ITEM = "unanswered_safety_item"  # left unanswered after its re-ask


# Most severe first: an alert that other triggers join shows on-call the worst of them.
ALERT_SEVERITY = tuple(AlertCategory)
# How on-call reads a category: clinical words, never the patient's.
ALERT_WORDS = {
    AlertCategory.PLAN_OR_MEANS: "plan or means",
    AlertCategory.INTENT: "intent",
    AlertCategory.IDEATION: "suicidal ideation",
    AlertCategory.SELF_HARM: "self-harm",
    AlertCategory.PASSIVE_IDEATION: "passive ideation",
    AlertCategory.SAFETY_ITEM: "safety item",
    AlertCategory.UNANSWERED_SAFETY_ITEM: "safety item unanswered",
}
