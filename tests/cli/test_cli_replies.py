"""Staff commands for replies and opt-outs, run as real processes."""

from __future__ import annotations

from tests.conftest import TEST_CIPHER, Cli
from tests.webhooks import inbound_form
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import utcnow
from worker.inbound.replies import process_inbound
from worker.inbound.store import store_inbound
from worker.questionnaires.definitions import Catalogue
from worker.settings import load_settings


def _reply(cli: Cli, body: str, sender: str) -> None:
    settings = load_settings(database_url=cli.env["CLINIC_DATABASE_URL"])
    sessions = session_factory(make_engine(settings.database_url, cipher=TEST_CIPHER))
    form = inbound_form(body, sender)
    with transaction(sessions) as session:
        store_inbound(session, {k: [v] for k, v in form}, "webhook", utcnow())
    with transaction(sessions) as session:
        from sqlalchemy import select

        from worker.db.models import InboundMessage

        newest = session.scalar(select(InboundMessage.id).order_by(InboundMessage.id.desc()))
        assert newest is not None
        process_inbound(session, settings, Catalogue(), newest, utcnow())


def test_replies_list_shows_what_patients_sent_and_filters_unmatched(cli: Cli) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143")
    _reply(cli, "Running 10 min late, sorry! 🙂", "+12025550143")
    _reply(cli, "HELP", "+12025550143")
    _reply(cli, "hi", "+12025550188")
    rows = cli.json("replies", "list")
    assert [set(r) >= {"id", "patient_id", "body", "received_at", "kind"} for r in rows] == [True] * 3
    assert [(r["kind"], r["patient_id"]) for r in rows] == [
        ("unknown_sender", None),
        ("help", 1),
        ("unmatched", 1),
    ]
    assert rows[-1]["body"] == "Running 10 min late, sorry! 🙂"
    assert [r["kind"] for r in cli.json("replies", "list", "--unmatched")] == ["unknown_sender", "unmatched"]
    assert [r["kind"] for r in cli.json("replies", "list", "--patient", "1", "--since", "1h")] == [
        "help",
        "unmatched",
    ]
    assert cli.json("replies", "list", "--since", "2999-01-01T00:00") == []
    bad = cli.run("replies", "list", "--since", "yesterday", ok=False)
    assert bad.returncode == 1 and "give a duration like 24h" in bad.stderr


def test_staff_opt_out_cancels_pending_messages_and_is_audited(cli: Cli) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143")
    cli.run("appointments", "add", "--patient", "1", "--start", "2031-03-04T10:00")
    out = cli.json("--by", "dana", "patients", "opt-out", "1")
    assert out["opted_out"] is True and out["messages_cancelled"] == 2
    assert out["opt_out_source"] == "staff:operator:dana"
    assert {m["status"] for m in cli.json("messages", "list")} == {"cancelled"}
    back = cli.json("patients", "opt-in", "1")
    assert back["opted_out"] is False
    # Opting back in brings back the reminders of upcoming appointments.
    assert sorted(m["status"] for m in cli.json("messages", "list")) == ["planned", "planned"]


def test_needs_attention_lists_what_waits_for_a_person_and_resolve_takes_it_off(cli: Cli) -> None:
    cli.run("patients", "add", "--name", "Ana", "--phone", "+12025550143")
    _reply(cli, "Running 10 min late, sorry! 🙂", "+12025550143")  # for the front desk
    _reply(cli, "do I need to fast before my visit?", "+12025550143")
    _reply(cli, "C", "+12025550143")  # nothing to confirm
    waiting = cli.json("replies", "list", "--needs-attention")
    assert [(r["attention"], r["intent"]) for r in waiting] == [
        ("running late", "unclear"),
        ("question", "question"),
        ("no appointment to confirm", "unclear"),
    ]
    table = cli.run("replies", "list", "--needs-attention").stdout
    assert "Replies that need a person" in table and "question" in table
    first = waiting[0]["id"]
    done = cli.json("replies", "resolve", str(first), "--by", "Dana", "--note", "called back")
    assert (done["resolved_by"], done["resolution_note"]) == ("Dana", "called back")
    assert [r["id"] for r in cli.json("replies", "list", "--needs-attention")] == [
        w["id"] for w in waiting[1:]
    ]
    again = cli.run("replies", "resolve", str(first), "--by", "Sam", ok=False)
    assert again.returncode == 1 and again.stderr.startswith("error: reply 1 was already resolved by Dana")
    empty = cli.run("replies", "resolve", str(waiting[1]["id"]), "--by", " ", ok=False)
    assert empty.returncode == 1 and "--by: give the name" in empty.stderr
    missing = cli.run("replies", "resolve", "999", "--by", "Dana", ok=False)
    assert missing.returncode == 1 and "no reply 999" in missing.stderr
    audit = cli.json("audit", "list")
    assert any(a["action"] == "reply.resolve" and a["actor"] == "Dana" for a in audit)
