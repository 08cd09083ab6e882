"""The SMS boundary: an interface, a Twilio implementation and a console one."""

from __future__ import annotations

from worker.settings import Settings
from worker.sms.base import OutboundSms, SmsError, SmsSender
from worker.sms.console import ConsoleSender
from worker.sms.twilio import TwilioSender


def make_sender(settings: Settings) -> SmsSender:
    if settings.sms_backend == "twilio":
        return TwilioSender(settings)
    return ConsoleSender()


__all__ = ["OutboundSms", "SmsError", "SmsSender", "make_sender"]
