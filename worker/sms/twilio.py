"""The Twilio sender. Twilio's error codes and HTTP failures are translated here and only here."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from worker.lib.errors import SmsError
from worker.metrics.record import observe_provider_latency, record_provider_error
from worker.settings import Settings
from worker.sms.base import OutboundSms, ProviderMessage

_TWILIO_BASE = "https://api.twilio.com"

# Codes answered synchronously by Messages.create that no retry can fix.
_PERMANENT_CODES = {
    20003,  # authentication failed
    20404,  # resource not found (wrong account or service SID)
    21211,  # invalid 'To' number
    21212,  # invalid 'From' number
    21408,  # region not enabled
    21602,  # body required
    21606,  # 'From' is not a valid message-capable number
    21608,  # trial account: unverified number
    21610,  # recipient replied STOP: blocked until START
    21612,  # 'To' not reachable from this 'From'
    21614,  # 'To' is not a mobile number
    21617,  # body too long
    21635,  # landline
    21703,  # messaging service has no phone numbers
}
_RETRYABLE_CODES = {20429, 20500, 20503, 30001}
_UNSUBSCRIBED = 21610


def quiet_twilio_logging() -> None:
    """twilio.http_client logs request URLs and form data (numbers, bodies) at INFO."""
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    logging.getLogger("twilio").setLevel(logging.WARNING)


class _RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends the real client's requests to another base URL (a local stand-in in tests)."""

    def __init__(self, base_url: str, timeout: float, connections: int) -> None:
        super().__init__(timeout=timeout, logger=logging.getLogger("twilio.http_client"))
        self._base_url = base_url.rstrip("/")
        # One kept-alive connection per sending thread. No automatic retries: a create
        # retried by the HTTP layer could text the patient twice.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=connections, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self._base_url != _TWILIO_BASE and url.startswith(_TWILIO_BASE):
            url = self._base_url + url[len(_TWILIO_BASE) :]
        return super().request(method, url, *args, **kwargs)


def classify_rest_error(status: int, code: int | None) -> SmsError:
    """Turn Twilio's HTTP status and error code into an SmsError that knows if it is final."""
    if code == _UNSUBSCRIBED:
        return SmsError("recipient has opted out at Twilio", permanent=True, code=code, opted_out=True)
    if code in _PERMANENT_CODES:
        return SmsError(f"rejected by Twilio ({code})", permanent=True, code=code)
    if code in _RETRYABLE_CODES or status == 429 or status >= 500:
        return SmsError(f"Twilio busy or failing (HTTP {status})", permanent=False, code=code)
    # Any other 4xx is a request Twilio will keep refusing.
    return SmsError(f"rejected by Twilio (HTTP {status})", permanent=True, code=code)


def classify_network_error(exc: requests.RequestException) -> SmsError:
    """A request that never left is safe to retry; one that may have arrived is ambiguous."""
    if isinstance(exc, requests.ConnectTimeout) or _never_connected(exc):
        return SmsError("could not reach Twilio", permanent=False)
    if isinstance(exc, requests.ReadTimeout | requests.ConnectionError):
        return SmsError("no answer from Twilio after sending", permanent=False, ambiguous=True)
    return SmsError(f"HTTP error talking to Twilio ({type(exc).__name__})", permanent=False)


def error_label(exc: TwilioRestException | requests.RequestException) -> str:
    """The `code` label of a failed call: Twilio's error code, else a short class of failure."""
    if isinstance(exc, TwilioRestException):
        return str(exc.code) if exc.code else f"http_{exc.status}"
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection"
    return "http"


def _never_connected(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ in {"NewConnectionError", "NameResolutionError"}:
            return True
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__context__ or seen.__cause__ or _reason(seen)
    return False


def _reason(exc: BaseException) -> BaseException | None:
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    return inner if isinstance(inner, BaseException) else None


class TwilioSender:
    """One per process, shared by its sending threads: the client keeps a pooled HTTP session."""

    def __init__(self, settings: Settings) -> None:
        quiet_twilio_logging()
        self._settings = settings
        http = _RedirectingHttpClient(
            settings.twilio_api_url, settings.twilio_timeout, settings.send_concurrency
        )
        self._client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=http,
        )
        # Resolved now, not at the first send: the client imports its API modules on first
        # use, under Python's import lock, and the send threads that queue behind that lock
        # (for a few hundred ms) would then reach Twilio all at once, over the rate limit.
        self._messages = self._client.api.v2010.account.messages

    def send(self, sms: OutboundSms) -> str:
        params: dict[str, Any] = {"to": sms.to, "body": sms.body}
        if self._settings.twilio_messaging_service_sid:
            params["messaging_service_sid"] = self._settings.twilio_messaging_service_sid
        else:
            params["from_"] = self._settings.twilio_from_number
        if sms.status_callback:
            params["status_callback"] = sms.status_callback
        if sms.validity_period:
            params["validity_period"] = sms.validity_period
        started = time.monotonic()
        try:
            message = self._messages.create(**params)
        except TwilioRestException as exc:
            record_provider_error(error_label(exc))
            raise classify_rest_error(exc.status, exc.code) from None
        except requests.RequestException as exc:
            record_provider_error(error_label(exc))
            raise classify_network_error(exc) from None
        finally:
            observe_provider_latency(time.monotonic() - started)
        return str(message.sid)

    def recent(self, since: datetime) -> Iterator[ProviderMessage]:
        try:
            for item in self._client.messages.stream(date_sent_after=since, page_size=200):
                yield _provider_message(item)
        except TwilioRestException as exc:
            raise classify_rest_error(exc.status, exc.code) from None
        except requests.RequestException as exc:
            raise classify_network_error(exc) from None

    def check(self) -> str:
        try:
            account = self._client.api.v2010.accounts(self._settings.twilio_account_sid).fetch()
        except TwilioRestException as exc:
            raise classify_rest_error(exc.status, exc.code) from None
        except requests.RequestException as exc:
            raise classify_network_error(exc) from None
        return f"Twilio account {account.sid} is {account.status}"


def _provider_message(item: Any) -> ProviderMessage:
    return ProviderMessage(
        sid=str(item.sid),
        account_sid=str(item.account_sid or ""),
        inbound=str(item.direction or "") == "inbound",
        from_number=str(item.from_ or ""),
        to_number=str(item.to or ""),
        body=str(item.body or ""),
        status=str(item.status or ""),
        error_code=int(item.error_code) if item.error_code else None,
        num_media=int(item.num_media or 0),
        sent_at=item.date_sent,
    )
