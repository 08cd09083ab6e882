"""What a signed Twilio webhook form may hold, checked field by field.

A valid signature proves only that Twilio's HMAC matches the sorted names and values glued
together: `MessageSid=SM…&NumMedia=0` re-split as `MessageSid=SM…NumMedia0` signs the same.
So a signed form is still read strictly: each field Twilio sends once appears once, the
fields the worker uses have Twilio's exact formats, every value is bounded and free of
control characters. A form that fails gets a 400 with a one-line reason naming the field
(never its value: values are PHI) and nothing is stored.

Fields Twilio adds later are signed too: they are accepted and ignored, bounded only by
the body limit, and refused only for NUL and control characters other than whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Exactly Twilio's form type, optionally with charset=utf-8 (parameter names and values are
# case-insensitive): "application/x-www-form-urlencodedEVIL" or a second parameter is not it.
_FORM_TYPE = re.compile(
    r"[ \t]*application/x-www-form-urlencoded[ \t]*(?:;[ \t]*charset=(?:utf-8|\"utf-8\")[ \t]*)?",
    re.IGNORECASE,
)

# Unicode's control characters (category Cc): C0, DEL and C1. A patient's text may hold
# line breaks and tabs; nothing else may hold any of them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-f]{32}")
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
SERVICE_SID = re.compile(r"(?:MG[0-9a-f]{32})?")  # empty or absent: no Messaging Service
# Senders the worker handles (worker.lib.phones.normalise_sender): E.164 numbers, which it
# matches to patients, and short codes and alphanumeric sender IDs (letters, digits, space,
# + - _ &, at least one letter: Twilio's rule), which it stores and never answers. No
# channel prefix (whatsapp:, messenger:, rcs:): the worker supports SMS and MMS only.
ADDRESS = re.compile(r"\+[1-9][0-9]{1,14}|[0-9]{3,8}|(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9 +_&-]{1,11}")
STATUS = re.compile(r"[a-z][a-z_-]{0,31}")  # status_events.status is 32 characters
ERROR_CODE = re.compile(r"[0-9]{0,6}")  # Twilio's codes have 5; empty means none
API_VERSION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Twilio's longest text is 1,600 characters; the margin covers counting differences
# (Twilio counts UTF-16 units and segments, Python code points) without storing novels.
MAX_BODY_CHARS = 2000
MAX_MEDIA = 10  # Twilio's most media in one MMS
MAX_SEGMENTS = 50  # a 1,600-character UCS-2 text is 24 segments
MAX_NAME = 64
MAX_TEXT = 1024  # a field the worker does not read: error messages, Twilio's geography
MAX_FREE_TEXT = 16 * 1024  # JSON blobs (AddOns, ChannelMetadata): the body limit rules anyway

_MEDIA_FIELD = re.compile(r"(?:MediaUrl|MediaContentType)(?:0|[1-9][0-9]?)")


class BadForm(ValueError):
    """A signed form Twilio would not send; the message is the one-line reason."""


@dataclass(frozen=True)
class Rule:
    """One single-valued field: its format (if the worker reads it) and bounds."""

    pattern: re.Pattern[str] | None = None
    max_len: int = MAX_TEXT
    whitespace: bool = False  # \t, \n and \r allowed (a patient's text, a JSON blob)
    most: int | None = None  # for counts: the largest number allowed

    def problem(self, value: str) -> str | None:
        controls = _CONTROL_BUT_WHITESPACE if self.whitespace else _CONTROL
        if controls.search(value):
            return "control character in"
        if len(value) > self.max_len:
            return "too long"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return "bad"
        if self.most is not None and int(value) > self.most:
            return "too large"
        return None


_TEXT = Rule()
_FREE_TEXT = Rule(max_len=MAX_FREE_TEXT, whitespace=True)
_MEDIA = Rule(max_len=2048)  # a media URL or content type


def _count(most: int) -> Rule:
    return Rule(re.compile(r"[0-9]{1,3}"), most=most)


# Twilio's documented webhook fields (incoming message and status callback requests), each
# sent at most once. `MediaUrlN` and `MediaContentTypeN` are matched by _MEDIA_FIELD.
SINGLE: Mapping[str, Rule] = {
    "MessageSid": Rule(MESSAGE_SID),
    "SmsSid": Rule(MESSAGE_SID),
    "SmsMessageSid": Rule(MESSAGE_SID),
    "AccountSid": Rule(ACCOUNT_SID),
    "MessagingServiceSid": Rule(SERVICE_SID),
    "From": Rule(ADDRESS),
    "To": Rule(ADDRESS),
    "Body": Rule(max_len=MAX_BODY_CHARS, whitespace=True),
    "NumMedia": _count(MAX_MEDIA),
    "ReferralNumMedia": _count(MAX_MEDIA),
    "NumSegments": _count(MAX_SEGMENTS),
    "MessageStatus": Rule(STATUS),
    "SmsStatus": Rule(STATUS),
    "ErrorCode": Rule(ERROR_CODE),
    "ErrorMessage": _TEXT,
    "ApiVersion": Rule(API_VERSION),
    "OptOutType": Rule(max_len=32),
    "RawDlrDoneDate": Rule(max_len=32),
    "AddOns": _FREE_TEXT,
    "ChannelMetadata": _FREE_TEXT,
    "ChannelInstallSid": _TEXT,
    "ChannelStatusMessage": _TEXT,
    "ChannelPrefix": _TEXT,
    "EventType": _TEXT,
    "MessageType": _TEXT,
    **{f"{side}{part}": _TEXT for side in ("From", "To") for part in ("City", "State", "Zip", "Country")},
    **dict.fromkeys(
        (
            "ProfileName",
            "WaId",
            "Forwarded",
            "FrequentlyForwarded",
            "ButtonText",
            "ButtonPayload",
            "Latitude",
            "Longitude",
            "Label",
            "ReferralHeadline",
            "ReferralSourceId",
            "ReferralSourceType",
            "ReferralSourceUrl",
            "ReferralMediaId",
            "ReferralMediaUrl",
            "ReferralMediaContentType",
            "ReferralCtwaClid",
            "OriginalRepliedMessageSender",
            "OriginalRepliedMessageSid",
        ),
        _TEXT,
    ),
    "Address": _FREE_TEXT,
    "ReferralBody": _FREE_TEXT,
}

INBOUND_REQUIRED = (("MessageSid",), ("AccountSid",), ("From",), ("To",))
STATUS_REQUIRED = (("MessageSid", "SmsSid"), ("MessageStatus", "SmsStatus"), ("AccountSid",))
_MESSAGE_SIDS = ("MessageSid", "SmsSid", "SmsMessageSid")


def is_form_type(content_type: str) -> bool:
    """Whether a Content-Type header is exactly Twilio's form type."""
    return _FORM_TYPE.fullmatch(content_type) is not None


def check_form(pairs: Sequence[tuple[str, str]], required: Iterable[Sequence[str]]) -> None:
    """Raise BadForm unless every field is one Twilio could send, as Twilio sends it.

    `required`: groups of names, of which each group needs at least one present.
    """
    seen: dict[str, str] = {}
    for name, value in pairs:
        rule = rule_for(name)
        if rule is None:
            _check_unknown(name, value)
            continue
        if name in seen:
            raise BadForm(f"duplicate field {name}")
        seen[name] = value
        problem = rule.problem(value)
        if problem is not None:
            raise BadForm(f"{problem} {name}")
    for group in required:
        if not any(seen.get(name) for name in group):
            raise BadForm(f"no {group[0]}")
    if len({seen[name] for name in _MESSAGE_SIDS if name in seen}) > 1:
        raise BadForm("MessageSid, SmsSid and SmsMessageSid differ")


def rule_for(name: str) -> Rule | None:
    """The rule of a known single-valued field; None for a field Twilio may add later."""
    rule = SINGLE.get(name)
    if rule is None and _MEDIA_FIELD.fullmatch(name):
        return _MEDIA
    return rule


def _check_unknown(name: str, value: str) -> None:
    # Named neither in the reason nor the log: an unknown name is the sender's to choose.
    if not name or len(name) > MAX_NAME or _CONTROL.search(name):
        raise BadForm("bad field name")
    if _CONTROL_BUT_WHITESPACE.search(value):
        raise BadForm("control character in a field")
