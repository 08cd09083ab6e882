"""Hostile and broken input: each gets a clear 4xx or one-line error, and nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.conftest import Cli
from tests.helpers import add_patient
from tests.inbound.test_replies import inbound_rows, process_all
from tests.webhooks import PUBLIC_URL, inbound_form, sign, signed
from worker.db.models import InboundMessage, StatusEvent
from worker.runtime import Runtime
from worker.web import create_app

PHONE = "+12025550143"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime), base_url=PUBLIC_URL) as test_client:
        yield test_client


def _raw(client: TestClient, path: str, body: bytes, signature: str) -> int:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return client.post(path, content=body, headers=headers).status_code


def test_a_replayed_signature_with_another_body_is_refused(client: TestClient, runtime: Runtime) -> None:
    original = signed("/twilio/sms", inbound_form("C", PHONE))
    assert client.post("/twilio/sms", **original).status_code == 200
    replay = signed("/twilio/sms", inbound_form("STOP", PHONE))
    replay["headers"]["X-Twilio-Signature"] = original["headers"]["X-Twilio-Signature"]
    assert client.post("/twilio/sms", **replay).status_code == 403
    assert client.post("/twilio/sms", **original).status_code == 200  # a true replay: stored once
    assert len(inbound_rows(runtime.sessions)) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"no-equals-sign&&&", 400), (b"Body=%FF%FE&MessageSid=SMx", 400), (b"MessageSid=SM1&Body=%zz%", 403)],
)
def test_malformed_forms_get_400_and_odd_but_parseable_ones_still_need_a_signature(
    client: TestClient, runtime: Runtime, body: bytes, status: int
) -> None:
    assert _raw(client, "/twilio/sms", body, "forged") == status
    assert inbound_rows(runtime.sessions) == []


def test_long_bodies_emoji_and_right_to_left_text_are_stored_and_shown_intact(
    client: TestClient, runtime: Runtime, cli_for: Cli
) -> None:
    add_patient(runtime.sessions, runtime.settings, PHONE)
    texts = [
        "x" * 1600,
        "\U0001f44d\U0001f3fd thanks! \U0001f64f",
        "\u0645\u0631\u062d\u0628\u0627\u060c \u0623\u0646\u0627 \u0628\u062e\u064a\u0631",
        "\u05e9\u05dc\u05d5\u05dd \u200f\u05ea\u05d5\u05d3\u05d4",
    ]
    for body in texts:
        assert (
            client.post("/twilio/sms", **signed("/twilio/sms", inbound_form(body, PHONE))).status_code == 200
        )
    process_all(runtime)
    assert [r["body"] for r in reversed(cli_for.json("replies", "list"))] == texts


@pytest.mark.parametrize(
    "phone", ["(202) 555-0143", "202.555.0143", "+1 202 555 0143", "1-202-555-0143", "  +12025550143  "]
)
def test_phone_numbers_in_odd_formats_become_one_e164(cli_for: Cli, phone: str) -> None:
    assert cli_for.json("patients", "add", "--name", "Ana", "--phone", phone)["phone"] == PHONE


@pytest.mark.parametrize("phone", ["12345", "not a phone", "+999 123", "555-CALL-NOW"])
def test_impossible_phone_numbers_are_one_line_errors(cli_for: Cli, phone: str) -> None:
    result = cli_for.run("patients", "add", "--name", "Ana", "--phone", phone, ok=False)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert cli_for.json("patients", "list") == []


@pytest.fixture
def cli_for(cli: Cli) -> Cli:
    return cli


FIELD = st.sampled_from(
    [
        "MessageSid",
        "AccountSid",
        "From",
        "To",
        "Body",
        "NumMedia",
        "MessageStatus",
        "ErrorCode",
        "SmsSid",
        "x",
    ]
) | st.text(max_size=12)
VALUE = st.text(max_size=40) | st.sampled_from(["SM1", "SM2", "AC" + "7" * 32, PHONE, "delivered", "30003"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/twilio/sms", "/twilio/status"]),
    form=st.lists(st.tuples(FIELD, VALUE), max_size=8),
    sign_it=st.booleans(),
    headers=st.dictionaries(
        st.sampled_from(
            ["X-Twilio-Signature", "Content-Type", "Content-Length", "X-Twilio-Webhooks-Signature-Settings"]
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
        max_size=2,
    ),
)
def test_fuzzed_webhooks_get_2xx_or_4xx_and_store_only_what_is_signed(
    client: TestClient,
    runtime: Runtime,
    path: str,
    form: list[tuple[str, str]],
    sign_it: bool,
    headers: dict[str, str],
) -> None:
    with runtime.sessions() as session:
        before = (
            session.scalar(select(func.count()).select_from(InboundMessage)),
            session.scalar(select(func.count()).select_from(StatusEvent)),
        )
    request_headers = {"Content-Type": "application/x-www-form-urlencoded"} | headers
    if sign_it:
        request_headers["X-Twilio-Signature"] = sign(path, form)
        request_headers.pop("Content-Length", None)
        request_headers["Content-Type"] = "application/x-www-form-urlencoded"
        request_headers.pop("X-Twilio-Webhooks-Signature-Settings", None)
    response = client.post(path, content=urlencode(form).encode(), headers=request_headers)
    assert 200 <= response.status_code < 500, response.text
    with runtime.sessions() as session:
        after = (
            session.scalar(select(func.count()).select_from(InboundMessage)),
            session.scalar(select(func.count()).select_from(StatusEvent)),
        )
        sids = session.scalars(select(InboundMessage.message_sid)).all()
    if not (sign_it and response.status_code == 200):
        assert after == before
    assert len(sids) == len(set(sids))
