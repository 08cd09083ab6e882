"""Signed but odd webhook requests through the real ASGI app: each gets a 4xx with a short
reason, stores nothing anywhere, and logs no traceback. What Twilio really sends still passes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.webhooks import PUBLIC_URL, MultiDict, inbound_form, sign, signed, status_form
from worker.db.models import Base, InboundMessage, SafetyAlert
from worker.runtime import Runtime
from worker.web import create_app

PHONE = "+12025550143"
CRISIS = "I want to kill myself"
Pairs = list[tuple[str, str]]


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    # Server errors come back as 500s (not raised here), so a 500 fails on its status.
    app = create_app(runtime.settings, runtime)
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as test_client:
        yield test_client


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Rows in every table: "stores nothing" means nothing anywhere (alerts, texts, audit)."""
    with sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def no_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return not any(r.exc_info for r in caplog.records) and "Traceback" not in caplog.text


def resplit(form: Pairs) -> Pairs:
    """The captured form re-split so that MessageSid swallows the field after it in sorted
    order: Twilio's signature glues sorted names and values, so it still matches."""
    sid = dict(form)["MessageSid"]
    return [(k, sid + "NumMedia0" if k == "MessageSid" else v) for k, v in form if k != "NumMedia"]


def long_sid() -> str:
    return "SM" + (uuid.uuid4().hex * 4)[:100]  # 102 characters


def _with_header(request: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    request["headers"][name] = value
    return request


def attacks() -> list[tuple[str, str, dict[str, Any], int, str]]:
    ours_first = [*inbound_form(CRISIS, PHONE), ("AccountSid", "AC" + "9" * 32)]
    ours_last = [("AccountSid", "AC" + "9" * 32), *inbound_form(CRISIS, PHONE)]
    return [
        ("nul-from", "/twilio/sms", signed("/twilio/sms", inbound_form(CRISIS, "+1202555\x000143")), 400,
         "control character in From"),
        ("long-sid", "/twilio/sms", signed("/twilio/sms", inbound_form(CRISIS, PHONE, long_sid())), 400,
         "bad SmsMessageSid"),  # the first of the three SIDs in Twilio's order
        ("long-sid-status", "/twilio/status", signed("/twilio/status", status_form(long_sid(), "delivered")),
         400, "bad SmsSid"),
        ("error-code", "/twilio/status",
         signed("/twilio/status", status_form("SM" + uuid.uuid4().hex, "failed", "9" * 30)), 400,
         "bad ErrorCode"),
        ("account-ours-first", "/twilio/sms", signed("/twilio/sms", ours_first), 400,
         "duplicate field AccountSid"),
        ("account-ours-last", "/twilio/sms", signed("/twilio/sms", ours_last), 400,
         "duplicate field AccountSid"),
        ("evil-type", "/twilio/sms",
         _with_header(signed("/twilio/sms", inbound_form(CRISIS, PHONE)), "Content-Type",
                      "application/x-www-form-urlencodedEVIL"), 415, "expected a form"),
        ("body-nul", "/twilio/sms", signed("/twilio/sms", inbound_form(CRISIS + "\x00", PHONE)), 400,
         "control character in Body"),
        ("whatsapp", "/twilio/sms", signed("/twilio/sms", inbound_form(CRISIS, "whatsapp:" + PHONE)), 400,
         "bad From"),
    ]  # fmt: skip


ATTACKS = attacks()


@pytest.mark.parametrize(("path", "request_", "status", "why"), [a[1:] for a in ATTACKS],
                         ids=[a[0] for a in ATTACKS])  # fmt: skip
def test_given_a_signed_request_twilio_never_sends_when_posted_expect_4xx_its_reason_and_nothing_stored(
    client: TestClient,
    runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
    path: str,
    request_: dict[str, Any],
    status: int,
    why: str,
) -> None:
    before = row_counts(runtime.sessions)
    response = client.post(path, **request_)
    assert (response.status_code, response.text) == (status, why)
    assert response.headers["content-type"].startswith("text/plain")
    assert row_counts(runtime.sessions) == before
    assert no_traceback(caplog)


def test_given_a_captured_crisis_text_re_split_when_posted_expect_400_and_no_text_or_alert(
    client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    captured = inbound_form(CRISIS, PHONE)
    original = signed("/twilio/sms", captured)
    signature = original["headers"]["X-Twilio-Signature"]
    attack = resplit(captured)
    # The attack is real: Twilio's own validator accepts the captured signature on it.
    assert RequestValidator(AUTH_TOKEN).validate(PUBLIC_URL + "/twilio/sms", MultiDict(attack), signature)
    replayed = {"content": urlencode(attack).encode(), "headers": dict(original["headers"])}
    before = row_counts(runtime.sessions)

    response = client.post("/twilio/sms", **replayed)

    assert (response.status_code, response.text) == (400, "bad MessageSid")
    assert row_counts(runtime.sessions) == before
    # The captured request itself is a crisis text: stored once, one alert; the re-split
    # replay after it still adds nothing.
    assert client.post("/twilio/sms", **original).status_code == 200
    assert client.post("/twilio/sms", **replayed).status_code == 400
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
        assert session.scalar(select(func.count()).select_from(SafetyAlert)) == 1
    assert no_traceback(caplog)


def inbound_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage)) or 0


@pytest.mark.parametrize(
    "form",
    [
        inbound_form("see you\nthursday\r\n\tthanks", PHONE),
        inbound_form("hi", "22395"),  # a short code: stored, never answered
        inbound_form("hi", "Riverside"),  # an alphanumeric sender
        [
            *inbound_form("photo", PHONE),
            ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1"),
            ("MediaContentType0", "image/jpeg"),
            ("SomethingTwilioAddsLater", "a"),
            ("SomethingTwilioAddsLater", '{\n"b": 2\n}'),
        ],
    ],
    ids=["line-breaks", "short-code", "alphanumeric", "mms-and-new-fields"],
)
def test_given_what_twilio_really_sends_when_posted_expect_200_and_stored(
    client: TestClient, runtime: Runtime, form: Pairs
) -> None:
    assert client.post("/twilio/sms", **signed("/twilio/sms", form)).status_code == 200
    assert inbound_count(runtime.sessions) == 1


def test_given_the_charset_parameter_when_posted_expect_200(client: TestClient, runtime: Runtime) -> None:
    request = signed("/twilio/sms", inbound_form("C", PHONE))
    request["headers"]["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
    assert client.post("/twilio/sms", **request).status_code == 200
    assert inbound_count(runtime.sessions) == 1


def test_given_two_content_type_headers_when_posted_expect_415(client: TestClient, runtime: Runtime) -> None:
    request = signed("/twilio/sms", inbound_form("C", PHONE))
    headers = [(k, v) for k, v in request["headers"].items()] + [("Content-Type", "text/plain")]
    response = client.post("/twilio/sms", content=request["content"], headers=headers)
    assert response.status_code == 415
    assert inbound_count(runtime.sessions) == 0


# Pieces of real forms, so that random bodies often parse, often carry the fields the checks
# read, and sometimes pass them.
PIECES = st.sampled_from(
    [
        b"MessageSid=",
        b"SmsSid=",
        b"SM" + b"a" * 32,
        b"AccountSid=",
        ACCOUNT_SID.encode(),
        b"From=",
        b"To=",
        b"%2B12025550143",
        b"Body=",
        b"ErrorCode=",
        b"9" * 30,
        b"MessageStatus=delivered",
        b"NumMedia=",
        b"MediaUrl0=",
        b"&",
        b"=",
        b"%00",
        b"%1B",
        b"%FF",
        b"%0A",
        b"+",
    ]
)
BODIES = st.lists(PIECES | st.binary(max_size=6), max_size=14).map(b"".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/twilio/sms", "/twilio/status"]), body=BODIES)
def test_given_any_signed_bytes_when_posted_expect_never_a_5xx_and_nothing_stored_unless_200(
    client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture, path: str, body: bytes
) -> None:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except ValueError:  # UnicodeDecodeError too: the app answers 400 before any signature
        pairs = []
    before = row_counts(runtime.sessions)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(path, pairs)}
    response = client.post(path, content=body, headers=headers)
    assert 200 <= response.status_code < 500, response.text
    if response.status_code != 200:
        assert row_counts(runtime.sessions) == before
    assert no_traceback(caplog)
