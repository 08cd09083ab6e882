"""Webhook requests signed exactly as Twilio signs them, with Twilio's real parameter names."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

PUBLIC_URL = "https://clinic.example.org"


class MultiDict:
    """What the validator needs to see repeated keys: getlist()."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def __iter__(self) -> Any:
        return iter({k for k, _ in self.pairs})

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]


def inbound_form(
    body: str, sender: str, sid: str | None = None, account: str = ACCOUNT_SID
) -> list[tuple[str, str]]:
    sid = sid or "SM" + uuid.uuid4().hex
    return [
        ("ToCountry", "US"),
        ("ToState", "DC"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ToCity", "WASHINGTON"),
        ("FromZip", ""),
        ("SmsSid", sid),
        ("FromState", "DC"),
        ("SmsStatus", "received"),
        ("FromCity", "WASHINGTON"),
        ("Body", body),
        ("FromCountry", "US"),
        ("To", FROM_NUMBER),
        ("ToZip", ""),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", account),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]


def status_form(
    sid: str, status: str, error_code: str | None = None, to: str = "+12025550143"
) -> list[tuple[str, str]]:
    form = [
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", to),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", FROM_NUMBER),
        ("ApiVersion", "2010-04-01"),
    ]
    if error_code:
        form.append(("ErrorCode", error_code))
    return form


def sign(
    path: str, form: list[tuple[str, str]], token: str = AUTH_TOKEN, algorithm: str | None = None
) -> str:
    return RequestValidator(token).compute_signature(PUBLIC_URL + path, MultiDict(form), algorithm)


def signed(path: str, form: list[tuple[str, str]], **kwargs: Any) -> dict[str, Any]:
    """Keyword arguments for an HTTP client's post(): body, content type and signature."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(path, form, **kwargs),
    }
    return {"content": urlencode(form).encode(), "headers": headers}
