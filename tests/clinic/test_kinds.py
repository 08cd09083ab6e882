"""Appointment kinds are a known set from config/kinds.yaml, read in any case: `Consult`
plans what `consult` plans, and an unknown kind is refused with the list."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Cli, make_settings
from tests.helpers import add_patient, in_minutes, messages_of
from worker.clinic import records
from worker.clinic.kinds import canonical_kind, known_kinds
from worker.db.engine import transaction
from worker.db.models import Appointment, utcnow
from worker.lib.errors import InputError
from worker.planning.followups import load_kinds, load_overrides
from worker.settings import Settings, bundled_config_dir

SHIPPED = ("session", "consult", "intake", "ketamine-infusion", "follow-up")
UNKNOWN = "error: unknown kind 'massage'; known kinds: session, consult, intake, ketamine-infusion, follow-up"


def _settings(config_dir: Path | None = None, **overrides: str) -> Settings:
    return make_settings("sqlite:///:memory:", "memory://", config_dir=config_dir, **overrides)


def _config(tmp_path: Path, **files: str) -> Path:
    """A copy of the shipped config with `files` (name -> text; '' removes it) changed."""
    folder = tmp_path / "config"
    shutil.copytree(bundled_config_dir(), folder)
    for name, text in files.items():
        path = folder / name.replace("_", ".")
        if text:
            path.write_text(text, encoding="utf-8")
        else:
            path.unlink()
    return folder


def _book(sessions: sessionmaker[Session], settings: Settings, patient: int, kind: str) -> Appointment:
    with transaction(sessions) as session:
        appointment, _ = records.add_appointment(
            session, settings, patient, in_minutes(60 * 72), kind=kind, actor="test", now=utcnow()
        )
        session.expunge(appointment)
        return appointment


def test_given_the_shipped_config_expect_the_kinds_the_docs_and_tests_use() -> None:
    assert known_kinds(_settings()) == SHIPPED


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Consult", "consult"),
        ("  CONSULT ", "consult"),
        ("Ketamine Infusion", "ketamine-infusion"),
        ("ketamine_infusion", "ketamine-infusion"),
        ("Follow-Up", "follow-up"),
    ],
)
def test_when_a_kind_is_typed_in_any_case_expect_the_form_the_file_lists(typed: str, stored: str) -> None:
    assert canonical_kind(_settings(), typed) == stored


def test_when_a_kind_is_unknown_expect_one_line_naming_every_known_kind() -> None:
    with pytest.raises(InputError) as refused:
        canonical_kind(_settings(), "massage")
    assert f"error: {refused.value}" == UNKNOWN


def test_when_consult_is_typed_capitalised_expect_exactly_the_messages_consult_plans(
    sessions: sessionmaker[Session], db_url: str
) -> None:
    settings = make_settings(db_url, "memory://", followup_plan="checkin@24h,phq9@7d,gad7@7d")
    plans = {}
    for n, kind in enumerate(("consult", "Consult", "session")):
        patient = add_patient(sessions, settings, phone=f"+1202555014{n}")
        appointment = _book(sessions, settings, patient, kind)
        rows = messages_of(sessions, appointment.id)
        plans[kind] = (
            appointment.kind,
            sorted((r.kind, r.template, r.due_at - appointment.start_at) for r in rows),
        )
    assert plans["Consult"] == plans["consult"]
    assert plans["consult"][0] == "consult" and len(plans["consult"][1]) == 2  # reminders only
    assert len(plans["session"][1]) == 5  # followups.yaml does not name session: the default plan


def test_when_an_unknown_kind_is_booked_expect_nothing_written(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings)
    with pytest.raises(InputError, match=r"^unknown kind 'massage'; known kinds: session, consult"):
        _book(sessions, db_settings, patient, "massage")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == 0


def test_when_no_kind_is_given_expect_a_session(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    patient = add_patient(sessions, db_settings)
    assert _book(sessions, db_settings, patient, " ").kind == "session"


def test_given_a_clinic_config_dir_expect_its_own_kinds(tmp_path: Path) -> None:
    folder = _config(tmp_path, kinds_yaml="- session\n- Group Therapy\n")
    settings = _settings(folder)
    assert known_kinds(settings) == ("session", "group-therapy")
    assert canonical_kind(settings, "group therapy") == "group-therapy"
    with pytest.raises(InputError, match=r"known kinds: session, group-therapy$"):
        canonical_kind(settings, "consult")


def test_given_a_config_dir_copied_before_kinds_yaml_expect_the_shipped_kinds(tmp_path: Path) -> None:
    assert known_kinds(_settings(_config(tmp_path, kinds_yaml=""))) == SHIPPED


def test_when_kinds_yaml_is_edited_expect_the_new_list_at_once(tmp_path: Path) -> None:
    folder = _config(tmp_path, kinds_yaml="- session\n")
    settings = _settings(folder)
    assert known_kinds(settings) == ("session",)
    (folder / "kinds.yaml").write_text("- session\n- intake\n", encoding="utf-8")
    assert known_kinds(settings) == ("session", "intake")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("session: yes\n", "expected a list of appointment kinds"),
        ("[]\n", "expected a list of appointment kinds"),
        ("- consult\n", "must list 'session'"),
        ("- session\n- Consult\n- consult\n", "'consult' is listed twice"),
        ("- session\n- no\n", "False is not a kind name"),
        ("- session\n- 'a/b'\n", "'a/b' is not a kind name"),
        ("- session\n- [\n", "not valid YAML"),
    ],
)
def test_given_a_broken_kinds_yaml_expect_one_line_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "kinds.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"^kinds\.yaml: ") as refused:
        load_kinds(path)
    assert problem in str(refused.value) and "\n" not in str(refused.value)


def test_given_the_shipped_config_expect_every_followup_plan_to_name_a_known_kind() -> None:
    assert set(load_overrides(bundled_config_dir() / "followups.yaml")) <= set(SHIPPED)


def test_when_followups_yaml_names_an_unknown_kind_expect_it_refused_with_the_list(tmp_path: Path) -> None:
    folder = _config(tmp_path, followups_yaml="therapy: [phq9@7d]\n")
    with pytest.raises(InputError) as refused:
        load_overrides(folder / "followups.yaml")
    assert str(refused.value) == (
        "followups.yaml: unknown kind 'therapy'; known kinds: session, consult, intake, "
        "ketamine-infusion, follow-up (add it to kinds.yaml)"
    )


def test_when_followups_yaml_names_a_kind_in_another_case_expect_the_stored_form(tmp_path: Path) -> None:
    folder = _config(tmp_path, followups_yaml="Ketamine Infusion: [phq9@7d]\nCONSULT: []\n")
    plans = load_overrides(folder / "followups.yaml")
    assert sorted(plans) == ["consult", "ketamine-infusion"]
    assert [f.questionnaire for f in plans["ketamine-infusion"]] == ["phq9"]
    folder = _config(tmp_path / "twice", followups_yaml="consult: []\nConsult: [phq9@7d]\n")
    with pytest.raises(InputError, match="'consult' is listed twice"):
        load_overrides(folder / "followups.yaml")


def test_when_the_cli_is_given_a_kind_in_capitals_expect_the_same_plan_and_an_unknown_one_refused(
    cli: Cli,
) -> None:
    for phone in ("+12025550143", "+12025550144"):
        cli.run("patients", "add", "--name", "Ana", "--phone", phone)
    lower = cli.json(
        "appointments", "add", "--patient", "1", "--start", "2031-03-04T10:00", "--kind", "consult"
    )
    upper = cli.json(
        "appointments", "add", "--patient", "2", "--start", "2031-03-04T10:00", "--kind", "Consult"
    )
    assert (
        (upper["kind"], upper["messages_planned"])
        == (lower["kind"], lower["messages_planned"])
        == ("consult", 2)
    )
    refused = cli.run(
        "appointments", "add", "--patient", "1", "--start", "2031-03-05T10:00", "--kind", "massage", ok=False
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == UNKNOWN
