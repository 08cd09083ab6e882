"""Kinds of outbound message, and the rules that differ by kind, named once."""

from __future__ import annotations

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
IGNORES_CONSENT = frozenset({KEYWORD_REPLY, STAFF_NOTICE, SAFETY, SAFETY_NOTICE})
# Texts about an upcoming appointment: pointless once it started or was cancelled.
BEFORE_SESSION = frozenset({REMINDER, REPLY})
# Texts after a session: not for cancelled or no-show sessions; a longer grace.
AFTER_SESSION = frozenset({CHECKIN, NUDGE})
# Texts we start ourselves (not answers to the patient): these respect quiet hours.
OURS_TO_START = frozenset({REMINDER, CHECKIN, NUDGE})
# Safety: never stale, never rate limited, on the urgent queue.
URGENT = frozenset({SAFETY, SAFETY_NOTICE})
