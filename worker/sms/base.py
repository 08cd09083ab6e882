"""The SMS boundary: what a sender takes, what it gives back, and the one error it raises."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from worker.lib.errors import SmsError

__all__ = ["OutboundSms", "ProviderMessage", "SmsError", "SmsSender"]


@dataclass(frozen=True)
class OutboundSms:
    to: str  # E.164
    body: str
    status_callback: str | None = None
    validity_period: int | None = None  # seconds the provider may hold it before dropping it


@dataclass(frozen=True)
class ProviderMessage:
    """A message as the provider's own records show it (for reconciliation)."""

    sid: str
    account_sid: str
    inbound: bool
    from_number: str
    to_number: str
    body: str
    status: str
    error_code: int | None
    num_media: int
    sent_at: datetime | None


class SmsSender(Protocol):
    """Send one SMS and return the provider's id for it, or raise SmsError."""

    def send(self, sms: OutboundSms) -> str: ...

    def recent(self, since: datetime) -> Iterator[ProviderMessage]:
        """Messages sent or received since `since`, newest first; raises SmsError."""
        ...

    def check(self) -> str:
        """Check credentials with the provider; return a short description or raise SmsError."""
        ...
