"""Real actors: `--by` names a person in one printable line, or nothing is written.

An acknowledgement stops the repeat pages to on-call, so the service itself refuses one
without a real name, not only the command line.
"""

from __future__ import annotations

import pytest

from tests.cli.hostile import ANA_PHONE, Clinic
from worker.db.engine import transaction
from worker.db.models import SafetyAlert, utcnow
from worker.lib.actors import MAX_ACTOR_CHARS, clean_actor
from worker.lib.errors import InputError
from worker.safety.acks import acknowledge

BAD_ACTORS = ("", "   ", "a\nb", "\x1b[31m", "dana\x1b[31m", "\u202edana", "d" * (MAX_ACTOR_CHARS + 1))
CLI_BAD_ACTORS = ("", "a\nb", "\x1b[31m")


@pytest.mark.parametrize("actor", BAD_ACTORS)
def test_given_an_empty_multiline_or_escaped_actor_when_cleaned_expect_one_line_input_error(
    actor: str,
) -> None:
    with pytest.raises(InputError, match=r"^--by: ") as caught:
        clean_actor(actor)
    assert "\n" not in str(caught.value)
    assert not actor.strip() or actor.strip() not in str(caught.value)  # never echoed back


@pytest.mark.parametrize("actor", ["Dana", " Dr. José Núñez ", "dr-lee@clinic", "+12025550177"])
def test_given_a_real_name_when_cleaned_expect_it_kept_without_outer_spaces(actor: str) -> None:
    assert clean_actor(actor) == actor.strip()


def _one_line_refusal(clinic: Clinic, *args: str) -> None:
    result = clinic.cli.run(*args, ok=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: --by: ") and result.stderr.count("\n") == 1


def test_given_a_bad_global_by_when_any_command_runs_expect_refusal_and_nothing_written(
    clinic: Clinic,
) -> None:
    before = clinic.audit_count()
    for actor in CLI_BAD_ACTORS:
        _one_line_refusal(clinic, "--by", actor, "patients", "add", "--name", "Ana", "--phone", ANA_PHONE)
        _one_line_refusal(clinic, "--by", actor, "patients", "list")
    assert clinic.audit_count() == before
    assert clinic.cli.json("--by", "Dana", "patients", "list") == []  # no patient was added
    longest = "D" * MAX_ACTOR_CHARS  # fits every column a name is stored in, prefixes and all
    clinic.cli.run("--by", longest, "patients", "add", "--name", "Ana", "--phone", ANA_PHONE)
    assert clinic.cli.json("--by", longest, "patients", "opt-out", "1")["opt_out_source"].endswith(longest)


def test_given_a_bad_ack_by_when_alerts_ack_expect_refusal_alert_open_and_nothing_written(
    clinic: Clinic,
) -> None:
    patient = clinic.add_patient("Ana", ANA_PHONE)
    clinic.raise_alert(patient, clinic.add_reply(patient, "crisis words"))
    before = clinic.audit_count()
    for actor in CLI_BAD_ACTORS:
        _one_line_refusal(clinic, "alerts", "ack", "1", "--by", actor, "--note", "called")
    with pytest.raises(InputError), transaction(clinic.sessions) as session:
        acknowledge(session, 1, by=" ", note=None, now=utcnow())  # the service refuses too
    assert clinic.audit_count() == before
    with clinic.sessions() as session:
        alert = session.get_one(SafetyAlert, 1)
        assert (alert.acknowledged_at, alert.acknowledged_by) == (None, None)
    done = clinic.cli.run("alerts", "ack", "1", "--by", " Dr. Lee ").stdout
    assert done.strip() == "alert 1 acknowledged by Dr. Lee"


def test_given_a_bad_resolve_by_when_replies_resolve_expect_refusal_and_reply_still_waiting(
    clinic: Clinic,
) -> None:
    patient = clinic.add_patient("Ana", ANA_PHONE)
    reply = clinic.add_reply(patient, "can we move it?", attention="reschedule request")
    before = clinic.audit_count()
    for actor in CLI_BAD_ACTORS:
        _one_line_refusal(clinic, "replies", "resolve", str(reply), "--by", actor)
    assert clinic.audit_count() == before
    waiting = clinic.cli.json("replies", "list", "--needs-attention")
    assert [(r["id"], r["resolved_by"]) for r in waiting] == [(reply, None)]
