"""Paging of `alerts list`, `replies list` and `audit list`, through the real `clinic-worker`
process on SQLite and PostgreSQL: a table shows 50 rows unless --limit says otherwise,
--offset skips rows in the list's own order, a table with rows left out ends with where it
stands (`showing 1-50 of 53; --offset 50 for more`), and --json stays a plain list (every
row unless --limit is given)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.cli.hostile import ANA_PHONE, Clinic
from tests.conftest import ACCOUNT_SID, FROM_NUMBER
from worker.db import audit
from worker.db.engine import transaction
from worker.db.models import InboundMessage, SafetyAlert
from worker.enums import AlertCategory
from worker.safety.alerts import CRISIS_LANGUAGE, Trigger, raise_alert

START = datetime(2031, 12, 3, 15, 0, tzinfo=UTC)


def _last_line(clinic: Clinic, *args: str) -> str:
    return clinic.cli.run(*args).stdout.splitlines()[-1]


def _ids(clinic: Clinic, *args: str) -> list[int]:
    return [row["id"] for row in clinic.cli.json(*args)]


def _texts(clinic: Clinic, patient_id: int, count: int, attention: str | None = None) -> list[int]:
    """`count` texts from the patient a minute apart, oldest first; their ids."""
    with transaction(clinic.sessions) as session:
        rows = [
            InboundMessage(
                message_sid="SM" + uuid.uuid4().hex,
                account_sid=ACCOUNT_SID,
                from_number=ANA_PHONE,
                to_number=FROM_NUMBER,
                body=f"text {n}",
                params={},
                source="webhook",
                received_at=START + timedelta(minutes=n),
                processed_at=START + timedelta(minutes=n),
                patient_id=patient_id,
                kind="unmatched",
                attention=attention,
            )
            for n in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _alerts(clinic: Clinic, count: int) -> list[int]:
    """`count` alerts, each from its own unknown number, a minute apart; ids newest first."""
    with transaction(clinic.sessions) as session:
        for n in range(count):
            trigger = Trigger(CRISIS_LANGUAGE, AlertCategory.IDEATION, "crisis text, suicidal ideation")
            raise_alert(
                session,
                clinic.settings,
                trigger,
                now=START + timedelta(minutes=n),
                patient=None,
                reply_to=f"+1202555{n:04d}",
            )
    with clinic.sessions() as session:
        return list(session.scalars(select(SafetyAlert.id).order_by(SafetyAlert.created_at.desc())))


def test_given_53_replies_when_listed_expect_50_newest_then_the_rest_with_a_footer(clinic: Clinic) -> None:
    ana = clinic.add_patient("Ana Example", ANA_PHONE)
    newest_first = _texts(clinic, ana, 53)[::-1]

    assert _last_line(clinic, "replies", "list") == "showing 1-50 of 53; --offset 50 for more"
    assert _last_line(clinic, "replies", "list", "--offset", "50") == "showing 51-53 of 53"
    past = _last_line(clinic, "replies", "list", "--offset", "60")
    assert past == "showing none of 53 (--offset 60 is past the end)"
    assert _ids(clinic, "replies", "list") == newest_first  # --json: every row
    assert _ids(clinic, "replies", "list", "--limit", "5", "--offset", "10") == newest_first[10:15]


def test_given_replies_waiting_for_a_person_when_paged_expect_oldest_first_and_only_unresolved(
    clinic: Clinic,
) -> None:
    ana = clinic.add_patient("Ana Example", ANA_PHONE)
    _texts(clinic, ana, 3)  # read and handled: never on the list
    waiting = _texts(clinic, ana, 5, attention="question")
    with transaction(clinic.sessions) as session:
        done = session.get_one(InboundMessage, waiting.pop(0))
        done.resolved_at, done.resolved_by = START, "dana"

    footer = _last_line(clinic, "replies", "list", "--needs-attention", "--limit", "2")
    assert footer == "showing 1-2 of 4; --offset 2 for more"
    paged = _ids(clinic, "replies", "list", "--needs-attention", "--limit", "2", "--offset", "1")
    assert paged == waiting[1:3]
    since = (START + timedelta(minutes=3)).isoformat()
    assert _ids(clinic, "replies", "list", "--needs-attention", "--since", since) == waiting[2:]


def test_given_51_alerts_when_listed_expect_50_newest_a_footer_and_the_page_in_the_audit_row(
    clinic: Clinic,
) -> None:
    newest_first = _alerts(clinic, 51)

    assert _last_line(clinic, "alerts", "list") == "showing 1-50 of 51; --offset 50 for more"
    assert _ids(clinic, "alerts", "list") == newest_first
    assert _ids(clinic, "alerts", "list", "--limit", "2", "--offset", "1") == newest_first[1:3]
    entry = clinic.reads("alerts.list")[-1][0]
    assert entry.detail == {"count": 2, "open_only": False, "limit": 2, "offset": 1}


def test_given_acknowledged_alerts_when_open_ones_paged_expect_the_count_of_open_ones(clinic: Clinic) -> None:
    newest_first = _alerts(clinic, 5)
    with transaction(clinic.sessions) as session:
        for alert_id in newest_first[:2]:
            alert = session.get_one(SafetyAlert, alert_id)
            alert.acknowledged_at, alert.acknowledged_by = START, "dana"

    footer = _last_line(clinic, "alerts", "list", "--open", "--limit", "2", "--offset", "1")
    assert footer == "showing 2-3 of 3"
    assert _ids(clinic, "alerts", "list", "--open", "--limit", "2") == newest_first[2:4]


def test_given_a_long_audit_trail_when_listed_expect_the_oldest_50_a_footer_and_slices_in_order(
    clinic: Clinic,
) -> None:
    ana = clinic.add_patient("Ana Example", ANA_PHONE)
    with transaction(clinic.sessions) as session:
        for n in range(60):
            audit.record(session, "test", "test.seed", patient_ids=[ana] if n % 2 else [], n=n)

    every = _ids(clinic, "audit", "list")
    # That --json read is on the trail now too, as the last row.
    footer = _last_line(clinic, "audit", "list")
    assert footer == f"showing 1-50 of {len(every) + 1}; --offset 50 for more"
    assert _ids(clinic, "audit", "list", "--limit", "3", "--offset", "2") == every[2:5]

    anas = _ids(clinic, "audit", "list", "--patient", str(ana))
    assert len(anas) > 30
    paged = _ids(clinic, "audit", "list", "--patient", str(ana), "--limit", "10", "--offset", "20")
    assert paged == anas[20:30]
    # Ana's trail has grown by two reads since `anas`: that one's own and the paged one's.
    footer = _last_line(clinic, "audit", "list", "--patient", str(ana), "--offset", "20")
    assert footer == f"showing 21-{len(anas) + 2} of {len(anas) + 2}"
