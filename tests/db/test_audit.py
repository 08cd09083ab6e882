"""The audit trail: who did what and when, append-only, without PHI."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import TEST_CIPHER, Cli
from worker.db.engine import make_engine


def test_operator_actions_reads_and_sends_are_listed_with_who_and_when(cli: Cli) -> None:
    cli.run("--by", "dana", "patients", "add", "--name", "Maria Example", "--phone", "+12025550143")
    cli.run("--by", "dana", "appointments", "add", "--patient", "1", "--start", "2031-03-04T10:00")
    cli.run("--by", "sam", "patients", "opt-out", "1")
    cli.run("--by", "sam", "replies", "list")
    cli.run("--by", "sam", "patients", "list")
    entries = cli.json("audit", "list", "--patient", "1")
    assert [(e["actor"], e["action"], e["patient_ids"]) for e in entries] == [
        ("operator:dana", "patient.add", [1]),
        ("operator:dana", "appointment.add", [1]),
        ("operator:sam", "patient.opt_out", [1]),
        ("operator:sam", "patients.list", [1]),  # a read that showed patient 1, among others
    ]
    assert all(e["os_user"].startswith("os:") for e in entries)  # whatever --by said
    everything = cli.json("audit", "list", "--since", "1h")
    assert ("operator:sam", "replies.list") in [(e["actor"], e["action"]) for e in everything]
    assert all(e["at"] for e in everything)
    dump = str(everything)
    assert "Maria" not in dump and "+12025550143" not in dump
    default_actor = cli.json("audit", "list")[-1]["actor"]
    assert default_actor.startswith("os:")


def test_the_database_refuses_to_change_or_delete_audit_rows(cli: Cli) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143")
    engine = make_engine(cli.env["CLINIC_DATABASE_URL"], cipher=TEST_CIPHER)
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_log")).scalar() == 1
