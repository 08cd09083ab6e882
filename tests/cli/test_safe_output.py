"""Safe output: what patients or files wrote never acts on the operator's terminal.

Control characters, escape sequences and bidi overrides are shown escaped, Rich markup in
the data prints literally, and --json keeps the text exact.
"""

from __future__ import annotations

import json

import pytest

from tests.cli.hostile import BEN_PHONE, HOSTILE, Clinic
from worker.cli.output import emit_json, emit_table, safe_text, say, say_error, say_status

ESCAPED = ("\\x1b[2J", "\\x1b]0;pwned\\x07", "[red]x[/red]", "\\u202eevil\\u202c", "\\x9b")
RAW = ("\x1b", "\x07", "\u202e", "\u202c", "\x9b")


def _shows_escaped(text: str) -> None:
    for raw in RAW:
        assert raw not in text, f"{raw!r} printed raw"
    for escaped in ESCAPED:
        assert escaped in text


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("\x1b[31mred", "\\x1b[31mred"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("nul\x00 del\x7f csi\x9b", "nul\\x00 del\\x7f csi\\x9b"),
        ("\u202aa\u202bb\u202cc\u202dd\u202ee", "\\u202aa\\u202bb\\u202cc\\u202dd\\u202ee"),
        ("\u2066a\u2067b\u2068c\u2069d", "\\u2066a\\u2067b\\u2068c\\u2069d"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ],
)
def test_given_control_or_bidi_characters_when_made_safe_expect_them_escaped(given: str, shown: str) -> None:
    assert safe_text(given) == shown


def test_given_ordinary_text_in_any_language_when_made_safe_expect_it_unchanged() -> None:
    text = "José Ñúñez — ¿mañana? 👍 👩‍⚕️ 日本 \\x1b [b]"
    assert safe_text(text) == text


def test_given_markup_and_emoji_codes_in_data_when_said_expect_them_literal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    say(f"name: [bold red]hi[/] :smile: {HOSTILE}")
    out = capsys.readouterr().out
    assert "[bold red]hi[/] :smile:" in out
    _shows_escaped(out)


def test_given_hostile_cells_when_a_table_is_printed_expect_one_line_per_row_and_no_raw_escape(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit_table("Replies", [{"id": 1, "body": HOSTILE}, {"id": 2, "body": "two\nlines"}], ("id", "body"))
    out = capsys.readouterr().out
    _shows_escaped(out)
    assert "two\\nlines" in out


def test_given_c1_characters_when_printed_as_json_expect_escaped_yet_exact(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit_json({"body": HOSTILE + "\x7f"})
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out and "\x7f" not in out
    assert json.loads(out) == {"body": HOSTILE + "\x7f"}


def test_given_an_error_naming_bad_input_when_reported_expect_one_escaped_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    say_error("'\x1b[2J\nx' is not a valid phone number")
    err = capsys.readouterr().err
    assert err == "error: '\\x1b[2J\\nx' is not a valid phone number\n"


def test_given_a_check_with_hostile_detail_when_its_status_is_said_expect_our_tag_and_escaped_detail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    say_status(True, "settings  [b]x[/b]")
    say_status(False, "redis     \x1b[2J no answer")
    assert capsys.readouterr().out.splitlines() == [
        "ok  settings  [b]x[/b]",
        "FAIL  redis     \\x1b[2J no answer",
    ]


def test_given_a_hostile_reply_when_replies_listed_expect_escaped_table_and_exact_json(
    clinic: Clinic,
) -> None:
    patient = clinic.add_patient("Ana", "+12025550143")
    clinic.add_reply(patient, HOSTILE)
    table = clinic.cli.run("replies", "list").stdout
    _shows_escaped(table)
    assert [r["body"] for r in clinic.cli.json("replies", "list")] == [HOSTILE]


def test_given_a_hostile_name_when_patients_listed_and_shown_expect_escaped_and_exact_json(
    clinic: Clinic,
) -> None:
    patient = clinic.add_patient("Ben", BEN_PHONE)
    clinic.rename(patient, HOSTILE)
    _shows_escaped(clinic.cli.run("patients", "list").stdout)
    _shows_escaped(clinic.cli.run("patients", "show", str(patient)).stdout)
    assert clinic.cli.json("patients", "list")[0]["name"] == HOSTILE
    assert clinic.cli.json("patients", "show", str(patient))["name"] == HOSTILE
