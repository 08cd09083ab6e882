"""Phone numbers: parsed with the phonenumbers library and stored as E.164."""

from __future__ import annotations

import phonenumbers

from worker.lib.errors import InputError


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


def is_dialable(raw: str, default_region: str = "US") -> bool:
    """Whether a number written for people, `(555) 010-0100` or `+44 20 7946 0000`, has the
    shape of a real number. Lenient on purpose: a clinic's own line may be too new for the
    library's list of assigned ranges, but never empty, a name or a short fragment."""
    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)
