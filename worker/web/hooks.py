"""Twilio's webhooks: inbound texts and status callbacks.

Order matters: size, content type and form encoding first, then the signature (against
CLINIC_PUBLIC_URL, never the request's own URL, which is http:// behind a TLS proxy), then
the fields themselves (worker.web.fields: a signature does not make a form well-formed),
then the account; only a request that passes all of them writes anything. An inbound text
is committed before the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    compare,
    get_signature_algorithm,
)

from worker.db.engine import transaction, unavailable
from worker.db.models import utcnow
from worker.jobs.queueing import enqueue_sends
from worker.lib.errors import Busy
from worker.lib.groupcommit import GroupCommit
from worker.metrics.record import record_delivery_status
from worker.outbound.statuses import Callback, our_status, record_callbacks
from worker.runtime import Runtime
from worker.settings import Settings
from worker.web.batcher import ReplyBatcher
from worker.web.fields import INBOUND_REQUIRED, STATUS_REQUIRED, BadForm, check_form, is_form_type
from worker.web.inbox import Inbox, committed

log = logging.getLogger(__name__)

MAX_BODY = 32 * 1024  # Twilio's largest form (1600-character body, media URLs) is far smaller
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_form(request: Request) -> FormData:
    """The whole form, repeated keys kept (the signature covers every value)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise Rejected(413, "body too large")
    content_types = request.headers.getlist("content-type")
    if len(content_types) != 1 or not is_form_type(content_types[0]):
        raise Rejected(415, "expected a form")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Rejected(413, "body too large")
    try:
        text = bytes(body).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "malformed form") from None
    return FormData(cast("list[tuple[str, str | UploadFile]]", pairs))


def verify_signature(settings: Settings, request: Request, form: FormData) -> None:
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise Rejected(403, "missing signature")  # validate() would raise TypeError on None
    url = settings.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    sig_settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    if sig_settings:
        key = settings.twilio_webhook_key.get_secret_value()
        if not key:
            raise Rejected(403, "shared-key signature but CLINIC_TWILIO_WEBHOOK_KEY is not set")
        validator, algorithm = RequestValidator(key), get_signature_algorithm(sig_settings)
    else:
        validator, algorithm = RequestValidator(settings.twilio_auth_token.get_secret_value()), None
    # The URL exactly as configured is how Twilio signs nearly every request: one HMAC. Only a
    # mismatch pays for validate(), which also tries the URL with and without its port.
    try:
        exact = compare(validator.compute_signature(url, form, algorithm), signature)
    except ValueError:
        raise Rejected(403, "unsupported signature algorithm") from None
    if not exact and not validator.validate(url, form, signature, algorithm=algorithm):
        raise Rejected(403, "bad signature")


def verify_account(settings: Settings, form: FormData) -> None:
    account = form.get("AccountSid")  # one at most: check_form refuses a second
    if settings.twilio_account_sid and account != settings.twilio_account_sid:
        raise Rejected(403, "not this clinic's account")


async def checked_form(rt: Runtime, request: Request, required: Sequence[Sequence[str]]) -> FormData:
    form = await read_form(request)
    verify_signature(rt.settings, request, form)
    try:
        check_form([(name, str(value)) for name, value in form.multi_items()], required)
    except BadForm as exc:
        raise Rejected(400, str(exc)) from None
    verify_account(rt.settings, form)
    return form


def rejection(exc: Rejected, endpoint: str) -> Response:
    log.warning("webhook rejected", extra={"endpoint": endpoint, "status": exc.status, "why": exc.reason})
    return Response(exc.reason, status_code=exc.status, media_type="text/plain")


def overloaded(exc: Exception, endpoint: str) -> Response:
    """The database is not keeping up: nothing was promised, so say so rather than wait."""
    log.warning("webhook not stored in time", extra={"endpoint": endpoint, "why": type(exc).__name__})
    return Response("busy", status_code=503, media_type="text/plain", headers={"Retry-After": "5"})


def make_inbound_endpoint(rt: Runtime, inbox: Inbox, batcher: ReplyBatcher):  # type: ignore[no-untyped-def]
    async def inbound_sms(request: Request) -> Response:
        try:
            form = await checked_form(rt, request, INBOUND_REQUIRED)
        except Rejected as exc:
            return rejection(exc, "sms")
        try:
            stored = await inbox.store({k: [str(v) for v in form.getlist(k)] for k in form})
        except (Busy, TimeoutError) as exc:
            return overloaded(exc, "sms")
        # Committed: the text and any safety alert survive whatever happens next.
        if stored.urgent:
            await run_in_threadpool(enqueue_sends, rt.settings, stored.urgent, urgent=True)
        if stored.new and stored.inbound_id is not None:
            batcher.add(stored.inbound_id)  # if Redis is down, the sweep picks it up
        log.info("reply stored", extra={"inbound_id": stored.inbound_id})
        return Response(EMPTY_TWIML, media_type="text/xml")

    return inbound_sms


def make_status_endpoint(rt: Runtime, statuses: GroupCommit[Callback, bool]):  # type: ignore[no-untyped-def]
    async def status_callback(request: Request) -> Response:
        try:
            form = await checked_form(rt, request, STATUS_REQUIRED)
        except Rejected as exc:
            return rejection(exc, "status")
        sid = str(form.get("MessageSid") or form.get("SmsSid"))
        status = str(form.get("MessageStatus") or form.get("SmsStatus"))
        # Group commit, like inbound texts: a busy day brings two or three callbacks per text sent.
        code = _code(form.get("ErrorCode"))
        try:
            moved = await committed(statuses.submit(Callback(sid, status, code)))
        except (Busy, TimeoutError) as exc:
            return overloaded(exc, "status")
        if moved:
            record_delivery_status(str(our_status(status, code)))
        # Always 200 once signed and well-formed: Twilio retries anything else, and an unknown
        # SID is ours to reconcile, not Twilio's to resend.
        return Response(status_code=200)

    return status_callback


def status_writer(rt: Runtime) -> GroupCommit[Callback, bool]:
    def write(callbacks: Sequence[Callback]) -> list[bool]:
        with transaction(rt.sessions) as session:
            return record_callbacks(session, callbacks, "webhook", utcnow())

    return GroupCommit("status-writer", write, outage=unavailable)


def _code(value: object) -> int | None:
    return int(str(value)) if value not in (None, "") else None  # check_form: six digits at most
