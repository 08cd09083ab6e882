"""Phone numbers: parsed with the phonenumbers library and stored as E.164."""

from __future__ import annotations

import re

import phonenumbers

from worker.lib.errors import InputError

# Numbers reserved for fiction and examples, never assigned to anyone: in North America
# NXX-555-0100 to 0199; in the UK (Ofcom's drama ranges) 020 7946 0000 to 0999. A setting
# holding one is a placeholder that nobody answers.
_FICTIONAL = (re.compile(r"^\+1[2-9]\d{2}55501\d{2}$"), re.compile(r"^\+442079460\d{3}$"))


def to_e164(raw: str, default_region: str = "US") -> str:
    """`(555) 123-4567` -> `+15551234567`. Raises InputError for anything not a real number."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InputError(f"{text!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InputError(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_fictional(raw: str, default_region: str = "US") -> bool:
    """Whether a number is one of the ranges kept for examples (555-01XX): a placeholder."""
    try:
        e164 = to_e164(raw, default_region)
    except InputError:
        return False
    return any(pattern.match(e164) for pattern in _FICTIONAL)


def normalise_sender(raw: str) -> str | None:
    """A webhook's `From` as E.164, or None for short codes and alphanumeric senders."""
    text = raw.strip()
    if not text.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
