"""clinic-worker patients ..."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from worker.cli.context import ctx_of
from worker.cli.output import emit, emit_json, say
from worker.clinic import queries, records
from worker.db.engine import transaction
from worker.db.models import Patient, utcnow
from worker.lib.privacy import mask_phone

app = typer.Typer(help="Add, list and show patients.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
COLUMNS = ("id", "name", "phone", "timezone", "language", "consent", "opted_out")


def patient_dict(patient: Patient, *, full_phone: bool = True) -> dict[str, Any]:
    return {
        "id": patient.id,
        "name": patient.name,
        "phone": patient.phone if full_phone else mask_phone(patient.phone),
        "timezone": patient.timezone,
        "language": patient.language,
        "consent": patient.sms_consent,
        "consent_at": patient.consent_at,
        "consent_source": patient.consent_source,
        "opted_out": patient.opted_out,
        "opted_out_at": patient.opted_out_at,
        "opt_out_source": patient.opt_out_source,
        "status": "opted_out" if patient.opted_out else ("active" if patient.sms_consent else "no_consent"),
        "created_at": patient.created_at,
    }


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Patient's name.")],
    phone: Annotated[str, typer.Option(help="Mobile number; stored as E.164.")],
    timezone: Annotated[str | None, typer.Option(help="IANA zone; default CLINIC_TIMEZONE.")] = None,
    language: Annotated[str, typer.Option(help="en or es.")] = "en",
    consent: Annotated[bool, typer.Option("--consent/--no-consent", help="Patient agreed to SMS.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Add a patient."""
    cli = ctx_of(ctx)
    data = records.PatientInput(name=name, phone=phone, timezone=timezone, language=language, consent=consent)
    with transaction(cli.sessions) as session:
        patient = records.add_patient(session, cli.settings, data, cli.actor, utcnow())
        row = patient_dict(patient)
    if as_json:
        emit_json(row)
    else:
        say(f"added patient {row['id']} ({row['name']}, {row['phone']}, {row['timezone']})")


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List patients."""
    cli = ctx_of(ctx)
    with cli.sessions() as session:
        rows = [patient_dict(p) for p in queries.list_patients(session)]
    cli.audit_read("patients.list", patient_ids=[r["id"] for r in rows], count=len(rows))
    emit(rows, as_json=as_json, title="Patients", columns=COLUMNS)


@app.command("show")
def show(ctx: typer.Context, patient_id: int, as_json: JsonFlag = False) -> None:
    """Show one patient with their appointments."""
    cli = ctx_of(ctx)
    with cli.sessions() as session:
        row = patient_dict(records.get_patient(session, patient_id))
        row["appointments"] = [
            {"id": a.id, "start_at": a.start_at, "kind": a.kind, "status": a.status}
            for a in queries.appointments_of(session, patient_id)
        ]
    cli.audit_read("patients.show", patient_ids=[patient_id], appointments=len(row["appointments"]))
    if as_json:
        emit_json(row)
        return
    for key, value in row.items():
        if key != "appointments":
            say(f"{key:>15}: {'' if value is None else value}")
    emit(
        row["appointments"], as_json=False, title="Appointments", columns=("id", "start_at", "kind", "status")
    )


def _set_opt_out(ctx: typer.Context, patient_id: int, opted_out: bool, as_json: bool) -> None:
    cli = ctx_of(ctx)
    with transaction(cli.sessions) as session:
        patient, cancelled = records.set_opt_out(
            session,
            cli.settings,
            patient_id,
            opted_out,
            actor=cli.actor,
            source=f"staff:{cli.actor}",
            now=utcnow(),
        )
        row = patient_dict(patient) | {"messages_cancelled": cancelled}
    if as_json:
        emit_json(row)
    elif opted_out:
        say(f"patient {patient_id} opted out; {cancelled} pending message(s) cancelled")
    else:
        say(f"patient {patient_id} opted back in")


@app.command("opt-out")
def opt_out(ctx: typer.Context, patient_id: int, as_json: JsonFlag = False) -> None:
    """Record that the patient asked (by phone, in person) to get no more texts."""
    _set_opt_out(ctx, patient_id, True, as_json)


@app.command("opt-in")
def opt_in(ctx: typer.Context, patient_id: int, as_json: JsonFlag = False) -> None:
    """Record that the patient asked to get texts again."""
    _set_opt_out(ctx, patient_id, False, as_json)
