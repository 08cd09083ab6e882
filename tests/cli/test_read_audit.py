"""Every read of patient data is audited and findable: one row per command run, with the
ids of the patients it showed, so `audit list --patient ID` returns every read of them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.hostile import ANA_PHONE, BEN_PHONE, Clinic

READS = (
    "patients.show",
    "patients.list",
    "appointments.list",
    "messages.list",
    "replies.list",
    "results.show",
    "results.list",
    "results.export",
    "alerts.list",
)


def _seed(clinic: Clinic) -> int:
    ana = clinic.add_patient("Ana Example", ANA_PHONE)
    clinic.add_patient("Ben Example", BEN_PHONE)
    clinic.cli.run("appointments", "add", "--patient", str(ana), "--start", "2031-03-04T10:00")
    clinic.raise_alert(ana, clinic.add_reply(ana, "crisis words"))
    return clinic.add_result(ana)


def test_given_reads_by_an_operator_when_audit_listed_for_a_patient_expect_one_row_per_command(
    clinic: Clinic, tmp_path: Path
) -> None:
    run_id = _seed(clinic)
    by = ("--by", "dana")
    clinic.cli.run(*by, "patients", "show", "1")
    clinic.cli.run(*by, "patients", "list", "--json")
    clinic.cli.run(*by, "appointments", "list")
    clinic.cli.run(*by, "messages", "list", "--json")
    clinic.cli.run(*by, "replies", "list", "--patient", "1")
    clinic.cli.run(*by, "results", "show", str(run_id))
    clinic.cli.run(*by, "results", "list")
    clinic.cli.run(*by, "results", "export", "--format", "csv", "--output", str(tmp_path / "Ana Example.csv"))
    clinic.cli.run(*by, "alerts", "list")
    rows = [r for r in clinic.cli.json("audit", "list", "--patient", "1") if r["action"] in READS]
    assert sorted(r["action"] for r in rows) == sorted(READS)
    assert {r["actor"] for r in rows} == {"operator:dana"}
    assert all(r["os_user"].startswith("os:") and 1 in r["patient_ids"] for r in rows)
    # The filters and counts are kept; no name, phone number or file path is.
    details = json.dumps([r["detail"] for r in rows])
    assert "Ana" not in details and "555" not in details and 'csv"' in details
    ben = [r["action"] for r in clinic.cli.json("audit", "list", "--patient", "2") if r["action"] in READS]
    assert ben == ["patients.list"]  # Ben was shown by the patient list only


def test_given_filters_when_messages_listed_expect_them_in_the_row_beside_the_patients(
    clinic: Clinic,
) -> None:
    _seed(clinic)
    shown = clinic.cli.json("messages", "list", "--patient", "1", "--upcoming")
    [(entry, linked)] = clinic.reads("messages.list")
    assert linked == [1]
    assert entry.detail == {"count": len(shown), "patient": 1, "upcoming": True, "limit": 50}


def test_given_an_empty_list_when_read_expect_a_row_all_the_same_linking_no_patient(clinic: Clinic) -> None:
    clinic.cli.run("alerts", "list", "--open")
    clinic.cli.run("replies", "list", "--needs-attention")
    [(alerts, alert_patients)] = clinic.reads("alerts.list")
    [(replies, reply_patients)] = clinic.reads("replies.list")
    assert (alert_patients, reply_patients) == ([], [])
    assert alerts.detail == {"count": 0, "open_only": True}
    assert replies.detail == {"count": 0, "unmatched": False, "needs_attention": True}
    assert alerts.actor == replies.actor and alerts.actor.startswith("os:")
