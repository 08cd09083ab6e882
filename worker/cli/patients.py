"""clinic-worker patients ..."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from worker.cli.appointments import start_text
from worker.cli.context import ctx_of
from worker.cli.output import (
    LimitOpt,
    OffsetOpt,
    emit,
    emit_json,
    page_limit,
    say,
    say_page,
)
from worker.clinic import queries, records
from worker.clinic.patient_edit import PatientChanges, edit_patient
from worker.db.engine import transaction
from worker.db.models import Patient, utcnow
from worker.lib import localtime
from worker.lib.privacy import mask_phone

app = typer.Typer(help="Add, find, edit, list and show patients.", no_args_is_help=True)

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
def list_(
    ctx: typer.Context, limit: LimitOpt = None, offset: OffsetOpt = 0, as_json: JsonFlag = False
) -> None:
    """List patients, by id."""
    cli = ctx_of(ctx)
    limit = page_limit(limit, as_json)
    with cli.sessions() as session:
        rows = [patient_dict(p) for p in queries.list_patients(session, limit=limit, offset=offset)]
        total = queries.count_patients(session)
    cli.audit_read(
        "patients.list", patient_ids=[r["id"] for r in rows], count=len(rows), offset=offset or None
    )
    emit(rows, as_json=as_json, title="Patients", columns=COLUMNS)
    if not as_json:
        say_page(offset, len(rows), total)


@app.command("find")
def find(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Part of a name (any case), or a phone number in any format.")],
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    as_json: JsonFlag = False,
) -> None:
    """Find patients by name or phone number."""
    cli = ctx_of(ctx)
    limit = page_limit(limit, as_json)
    with cli.sessions() as session:
        found = queries.find_patients(session, text)
        rows = [patient_dict(p) for p in found.patients]
    page = rows[offset : None if limit is None else offset + limit]
    # How it searched and how many it found; never the text searched for (a name, a number).
    cli.audit_read("patients.find", patient_ids=[r["id"] for r in page], count=len(page), by=found.by)
    emit(page, as_json=as_json, title=f"Patients found by {found.by}", columns=COLUMNS)
    if not as_json:
        say_page(offset, len(page), len(rows))


@app.command("edit")
def edit(
    ctx: typer.Context,
    patient_id: int,
    name: Annotated[str | None, typer.Option(help="Patient's name.")] = None,
    phone: Annotated[str | None, typer.Option(help="Mobile number; stored as E.164.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone, e.g. America/Chicago.")] = None,
    language: Annotated[str | None, typer.Option(help="en or es.")] = None,
    consent: Annotated[
        bool | None, typer.Option("--consent/--no-consent", help="Patient agreed to SMS (or withdrew).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Correct a patient's record; messages still to go are planned again to match."""
    cli = ctx_of(ctx)
    changes = PatientChanges(name=name, phone=phone, timezone=timezone, language=language, consent=consent)
    with transaction(cli.sessions) as session:
        result = edit_patient(session, cli.settings, patient_id, changes, actor=cli.actor, now=utcnow())
        row = patient_dict(result.patient) | {
            "changed": list(result.changed),
            "messages_planned": result.planned,
            "messages_cancelled": result.cancelled,
        }
    if as_json:
        emit_json(row)
    elif not result.changed:
        say(f"patient {patient_id}: nothing changed")
    else:
        say(
            f"edited patient {patient_id} ({', '.join(result.changed)}): "
            f"{result.planned} message(s) planned, {result.cancelled} cancelled"
        )


@app.command("show")
def show(ctx: typer.Context, patient_id: int, as_json: JsonFlag = False) -> None:
    """Show one patient with their appointments."""
    cli = ctx_of(ctx)
    clinic_zone = ZoneInfo(cli.settings.timezone)
    with cli.sessions() as session:
        patient = records.get_patient(session, patient_id)
        row = patient_dict(patient)
        appointments = queries.appointments_of(session, patient_id)
        row["appointments"] = [
            {"id": a.id, "start_at": a.start_at, "kind": a.kind, "status": a.status} for a in appointments
        ]
        starts = [start_text(a.start_at, clinic_zone, patient.timezone) for a in appointments]
    cli.audit_read("patients.show", patient_ids=[patient_id], appointments=len(row["appointments"]))
    if as_json:
        emit_json(row)
        return
    for key, value in row.items():
        if key != "appointments":
            say(f"{key:>15}: {_shown(value, clinic_zone)}")
    table = [a | {"start": start} for a, start in zip(row["appointments"], starts, strict=True)]
    emit(table, as_json=False, title="Appointments", columns=("id", "start", "kind", "status"))


def _shown(value: Any, zone: ZoneInfo) -> str:
    # When staff recorded something (consent, opt-out) is read on the clinic's clock.
    if value is None:
        return ""
    return localtime.show(value, zone) if isinstance(value, datetime) else str(value)


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
