"""The global `--by` works before or after the command. `alerts ack` and `replies resolve`
have a `--by` of their own (who took care of it): it falls back to the global one."""

from __future__ import annotations

from tests.cli.hostile import ANA_PHONE, Clinic


def _alert(clinic: Clinic) -> int:
    patient = clinic.add_patient("Ana", ANA_PHONE)
    clinic.raise_alert(patient, clinic.add_reply(patient, "crisis words"))
    return 1


def test_given_by_before_the_command_when_alerts_ack_expect_it_names_who_acknowledged(
    clinic: Clinic,
) -> None:
    alert = _alert(clinic)
    done = clinic.cli.run("--by", "alice", "alerts", "ack", str(alert))
    assert done.stdout.strip() == f"alert {alert} acknowledged by alice"
    assert [entry.actor for entry, _ in clinic.reads("alert.ack")] == ["operator:alice"]


def test_given_by_after_the_command_when_alerts_ack_expect_its_own_by_as_before(clinic: Clinic) -> None:
    alert = _alert(clinic)
    shown = clinic.cli.json("--by", "dana", "alerts", "ack", str(alert), "--by", "Dr. Lee")
    assert shown["acknowledged_by"] == "Dr. Lee"  # who took care of it; dana ran the command


def test_given_by_before_the_command_when_replies_resolve_expect_it_names_who_resolved(
    clinic: Clinic,
) -> None:
    patient = clinic.add_patient("Ana", ANA_PHONE)
    reply = clinic.add_reply(patient, "can we move it?", attention="reschedule request")
    shown = clinic.cli.json("--by", "bob", "replies", "resolve", str(reply))
    assert shown["resolved_by"] == "bob"
    assert clinic.cli.json("replies", "list", "--needs-attention") == []


def test_given_by_after_any_command_when_run_expect_the_audit_row_names_that_operator(
    clinic: Clinic,
) -> None:
    clinic.cli.run("patients", "list", "--by", "dana")
    clinic.cli.run("alerts", "list", "--by=erin", "--json")
    clinic.cli.run("--by", "fay", "replies", "list", "--by", "fay")  # the same name twice is fine
    actors = [
        entry.actor
        for action in ("patients.list", "alerts.list", "replies.list")
        for entry, _ in clinic.reads(action)
    ]
    assert actors == ["operator:dana", "operator:erin", "operator:fay"]


def test_given_a_bad_by_after_the_command_when_run_expect_one_line_refusal_and_nothing_written(
    clinic: Clinic,
) -> None:
    before = clinic.audit_count()
    result = clinic.cli.run("patients", "list", "--by", "a\nb", ok=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: --by: ") and result.stderr.count("\n") == 1
    assert clinic.audit_count() == before
