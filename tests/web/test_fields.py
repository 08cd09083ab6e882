"""The webhook fields model on its own: what Twilio sends passes, anything else is one reason."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.webhooks import inbound_form, status_form
from worker.web.fields import (
    INBOUND_REQUIRED,
    SINGLE,
    STATUS_REQUIRED,
    BadForm,
    check_form,
    is_form_type,
)

PHONE = "+12025550143"
Pairs = list[tuple[str, str]]


def reason(pairs: Pairs, required: tuple[tuple[str, ...], ...] = INBOUND_REQUIRED) -> str | None:
    try:
        check_form(pairs, required)
    except BadForm as exc:
        return str(exc)
    return None


def replaced(pairs: Pairs, name: str, value: str) -> Pairs:
    return [(k, value if k == name else v) for k, v in pairs]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencoded;charset=UTF-8",
        'Application/X-WWW-Form-Urlencoded; Charset="utf-8"',
    ],
)
def test_given_twilios_form_type_when_checked_expect_accepted(content_type: str) -> None:
    assert is_form_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencodedEVIL",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/x-www-form-urlencoded; charset=utf-8; boundary=x",
        "application/x-www-form-urlencoded;",
        "application/x-www-form-urlencoded\n",
        "multipart/form-data; boundary=x",
        "text/plain, application/x-www-form-urlencoded",
        "",
    ],
)
def test_given_any_other_content_type_when_checked_expect_refused(content_type: str) -> None:
    assert not is_form_type(content_type)


def test_given_what_twilio_sends_when_checked_expect_no_reason() -> None:
    mms = [*inbound_form("photo", PHONE), ("MediaUrl0", "https://api.twilio.com/m/1")]
    mms += [("MediaContentType0", "image/jpeg"), ("MediaUrl1", "https://api.twilio.com/m/2")]
    assert reason(inbound_form("hello\nthere\r\n\tbye", PHONE)) is None
    assert reason(inbound_form("x" * 1600, PHONE)) is None
    assert reason(mms) is None
    assert reason(status_form("SM" + uuid.uuid4().hex, "delivered"), STATUS_REQUIRED) is None
    assert reason(status_form("MM" + uuid.uuid4().hex, "undelivered", "30005"), STATUS_REQUIRED) is None


@pytest.mark.parametrize(
    "sender", ["+12025550143", "+442079460000", "22395", "12345678", "Riverside", "A&B-Clin_c"]
)
def test_given_a_sender_the_worker_handles_when_checked_expect_accepted(sender: str) -> None:
    assert reason(inbound_form("hi", sender)) is None


@pytest.mark.parametrize(
    "sender",
    [
        "+1202\x00",
        "whatsapp:+12025550143",
        "+0123456",
        "+1234567890123456",
        "12",
        "123456789",
        "TwelveChars1",
        "+12025550143\n",
        " +12025550143",
        "",
    ],
)
def test_given_a_sender_the_worker_cannot_handle_when_checked_expect_refused(sender: str) -> None:
    assert reason(inbound_form("hi", sender)) in {"bad From", "control character in From"}


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("MessageSid", "SM" + "a" * 100, "bad MessageSid"),
        ("MessageSid", "SM" + "A" * 32, "bad MessageSid"),
        ("MessageSid", "SM" + "a" * 31, "bad MessageSid"),
        ("AccountSid", "AC" + "7" * 31 + "g", "bad AccountSid"),
        ("NumMedia", "11", "too large NumMedia"),
        ("NumMedia", "-1", "bad NumMedia"),
        ("NumMedia", "\u0661", "bad NumMedia"),  # an Arabic-Indic one: int() takes it, Twilio never sends it
        ("NumSegments", "9" * 30, "bad NumSegments"),
        ("ApiVersion", "2010-04-01\n", "control character in ApiVersion"),
        ("Body", "I want to die\x00", "control character in Body"),
        ("Body", "\x1b[2Jhello", "control character in Body"),
        ("Body", "x" * 2001, "too long Body"),
        ("FromCity", "WASHINGTON\x85", "control character in FromCity"),
        ("To", "+1202555010\x00", "control character in To"),
    ],
)
def test_given_a_field_twilio_never_sends_when_checked_expect_its_reason(
    name: str, value: str, why: str
) -> None:
    assert reason(replaced(inbound_form("hi", PHONE), name, value)) == why


def test_given_a_30_digit_error_code_when_checked_expect_refused() -> None:
    form = status_form("SM" + uuid.uuid4().hex, "failed", "1" * 30)
    assert reason(form, STATUS_REQUIRED) == "bad ErrorCode"


@pytest.mark.parametrize("name", ["AccountSid", "MessageSid", "From", "Body", "NumMedia", "MediaUrl0"])
def test_given_a_single_valued_field_twice_when_checked_expect_duplicate(name: str) -> None:
    form = [*inbound_form("hi", PHONE), ("MediaUrl0", "https://api.twilio.com/m/1")]
    value = dict(form)[name]
    assert reason([*form, (name, value)]) == f"duplicate field {name}"


def test_given_the_re_split_sid_when_checked_expect_bad_message_sid() -> None:
    form = inbound_form("I want to kill myself", PHONE)
    sid = dict(form)["MessageSid"]
    resplit = [(k, sid + "NumMedia0" if k == "MessageSid" else v) for k, v in form if k != "NumMedia"]
    assert reason(resplit) == "bad MessageSid"


def test_given_message_sids_that_differ_when_checked_expect_refused() -> None:
    form = replaced(inbound_form("hi", PHONE), "SmsSid", "SM" + uuid.uuid4().hex)
    assert reason(form) == "MessageSid, SmsSid and SmsMessageSid differ"


@pytest.mark.parametrize(
    ("required", "missing", "why"),
    [
        (INBOUND_REQUIRED, "MessageSid", "no MessageSid"),
        (INBOUND_REQUIRED, "AccountSid", "no AccountSid"),
        (INBOUND_REQUIRED, "From", "no From"),
        (STATUS_REQUIRED, "AccountSid", "no AccountSid"),
    ],
)
def test_given_a_required_field_missing_when_checked_expect_no_field(
    required: tuple[tuple[str, ...], ...], missing: str, why: str
) -> None:
    form = inbound_form("hi", PHONE) if required is INBOUND_REQUIRED else status_form("SM" + "0" * 32, "sent")
    assert reason([(k, v) for k, v in form if k != missing], required) == why


def test_given_a_status_callback_with_only_the_old_names_when_checked_expect_accepted() -> None:
    form = [
        (k, v) for k, v in status_form("SM" + "0" * 32, "sent") if k not in {"MessageSid", "MessageStatus"}
    ]
    assert reason(form, STATUS_REQUIRED) is None
    assert reason([(k, v) for k, v in form if k != "SmsStatus"], STATUS_REQUIRED) == "no MessageStatus"


def test_given_fields_twilio_adds_later_when_checked_expect_accepted_repeated_and_with_line_breaks() -> None:
    form = [*inbound_form("hi", PHONE), ("NewThing", "a"), ("NewThing", "b"), ("Blob", '{\n "a": 1\n}')]
    assert reason(form) is None


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("NewThing", "a\x00b", "control character in a field"),
        ("NewThing", "\x1b[31m", "control character in a field"),
        ("", "x", "bad field name"),
        ("New\x00Thing", "x", "bad field name"),
        ("N" * 65, "x", "bad field name"),
    ],
)
def test_given_an_unknown_field_with_control_characters_when_checked_expect_refused(
    name: str, value: str, why: str
) -> None:
    assert reason([*inbound_form("hi", PHONE), (name, value)]) == why


def test_every_known_field_name_is_plain_ascii_so_a_reason_never_carries_what_a_sender_chose() -> None:
    assert all(re.fullmatch(r"[A-Za-z]+", name) for name in SINGLE)


# Reasons are built from known field names only: never a value (values are PHI), never an
# unknown name (the sender's to choose).
REASON = re.compile(
    r"(?:duplicate field|control character in|too long|too large|bad|no) [A-Za-z]+[0-9]{0,2}"
    r"|bad field name|control character in a field|MessageSid, SmsSid and SmsMessageSid differ"
)
NAMES = st.sampled_from([*SINGLE, "MediaUrl0", "MediaContentType3", "NewThing"]) | st.text(max_size=8)
VALUES = (
    st.text(max_size=40)
    | st.sampled_from(
        ["SM" + "a" * 32, "AC" + "7" * 32, PHONE, "delivered", "30003", "0", "10", "2010-04-01"]
    )
    | st.integers().map(str)
)


@given(pairs=st.lists(st.tuples(NAMES, VALUES), max_size=12), status=st.booleans())
def test_given_any_form_when_checked_expect_nothing_or_one_short_reason_without_values(
    pairs: Pairs, status: bool
) -> None:
    why = reason(pairs, STATUS_REQUIRED if status else INBOUND_REQUIRED)
    assert why is None or (REASON.fullmatch(why) and len(why) <= 60), why
