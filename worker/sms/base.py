"""The SMS boundary: what a sender takes, what it gives back, and the one error it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from worker.errors import SmsError

__all__ = ["OutboundSms", "SmsError", "SmsSender"]


@dataclass(frozen=True)
class OutboundSms:
    to: str  # E.164
    body: str
    status_callback: str | None = None
    validity_period: int | None = None  # seconds the provider may hold it before dropping it


class SmsSender(Protocol):
    """Send one SMS and return the provider's id for it, or raise SmsError."""

    def send(self, sms: OutboundSms) -> str: ...

    def check(self) -> str:
        """Check credentials with the provider; return a short description or raise SmsError."""
        ...
