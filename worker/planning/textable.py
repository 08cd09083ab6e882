"""Whether a patient may be sent texts we start (reminders, check-ins) at all. Pure.

Planning asks it so that a message that cannot go out is planned `skipped` with the reason
from the start, rather than shown `planned` until a worker skips it; sending asks it again,
since consent and opt-out can change after planning.
"""

from __future__ import annotations

OPTED_OUT = "patient opted out"
NO_CONSENT = "no SMS consent"
# The reasons above, which planning gives and a later plan (consent given, START) takes back.
NOT_TEXTABLE = frozenset({OPTED_OUT, NO_CONSENT})


def textable_reason(opted_out: bool, sms_consent: bool) -> str | None:
    """Why a patient with these flags may not be texted, or None. An opt-out is named first:
    it is the patient's own word, which consent recorded by staff does not override."""
    if opted_out:
        return OPTED_OUT
    if not sms_consent:
        return NO_CONSENT
    return None
