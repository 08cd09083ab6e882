"""clinic-worker appointments ..."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from worker.cli.context import ctx_of
from worker.cli.output import emit, emit_json, say
from worker.clinic import queries, records
from worker.db.engine import transaction
from worker.db.models import Appointment, utcnow
from worker.enums import AppointmentStatus
from worker.messages.replan import ReplanResult

app = typer.Typer(help="Add, move, cancel, import and list appointments.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
StartOpt = Annotated[str, typer.Option("--start", help="ISO 8601; without an offset, in CLINIC_TIMEZONE.")]
COLUMNS = ("id", "patient_id", "start_at", "duration_minutes", "kind", "status")


def appointment_dict(appointment: Appointment, result: ReplanResult | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": appointment.id,
        "patient_id": appointment.patient_id,
        "start_at": appointment.start_at,
        "duration_minutes": appointment.duration_minutes,
        "kind": appointment.kind,
        "status": appointment.status,
    }
    if result is not None:
        row["messages_planned"] = result.planned
        row["messages_cancelled"] = result.cancelled
    return row


def _report(row: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        emit_json(row)
        return
    say(
        f"{verb} appointment {row['id']} ({row['status']}, {row['start_at'].isoformat()}): "
        f"{row.get('messages_planned', 0)} message(s) planned, "
        f"{row.get('messages_cancelled', 0)} cancelled"
    )


@app.command("add")
def add(
    ctx: typer.Context,
    patient: Annotated[int, typer.Option("--patient", help="Patient id.")],
    start: StartOpt,
    duration: Annotated[int, typer.Option(help="Minutes.")] = 60,
    kind: Annotated[str, typer.Option(help="Appointment kind, e.g. session or consult.")] = "session",
    as_json: JsonFlag = False,
) -> None:
    """Add an appointment and plan its reminders."""
    cli = ctx_of(ctx)
    start_at = records.parse_start(start, cli.settings.timezone)
    with transaction(cli.sessions) as session:
        appointment, result = records.add_appointment(
            session,
            cli.settings,
            patient,
            start_at,
            duration=duration,
            kind=kind,
            actor=cli.actor,
            now=utcnow(),
        )
        row = appointment_dict(appointment, result)
    _report(row, as_json, "added")


@app.command("reschedule")
def reschedule(ctx: typer.Context, appointment_id: int, start: StartOpt, as_json: JsonFlag = False) -> None:
    """Move an appointment: pending reminders are cancelled and new ones planned."""
    cli = ctx_of(ctx)
    start_at = records.parse_start(start, cli.settings.timezone)
    with transaction(cli.sessions) as session:
        appointment, result = records.reschedule_appointment(
            session, cli.settings, appointment_id, start_at, actor=cli.actor, now=utcnow()
        )
        row = appointment_dict(appointment, result)
    _report(row, as_json, "rescheduled")


@app.command("cancel")
def cancel(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """Cancel an appointment and every message not yet sent for it."""
    cli = ctx_of(ctx)
    with transaction(cli.sessions) as session:
        appointment, result = records.cancel_appointment(
            session, cli.settings, appointment_id, actor=cli.actor, now=utcnow()
        )
        row = appointment_dict(appointment, result)
    _report(row, as_json, "cancelled")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[AppointmentStatus | None, typer.Option(help="Only this status.")] = None,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List appointments, soonest first."""
    cli = ctx_of(ctx)
    with cli.sessions() as session:
        found = queries.list_appointments(session, status=status, patient_id=patient)
        rows = [appointment_dict(a) for a in found]
    cli.audit_read(
        "appointments.list",
        patient_ids=[r["patient_id"] for r in rows],
        count=len(rows),
        status=status.value if status else None,
        patient=patient,
    )
    emit(rows, as_json=as_json, title="Appointments", columns=COLUMNS)


def _mark(ctx: typer.Context, appointment_id: int, status: AppointmentStatus, as_json: bool) -> None:
    cli = ctx_of(ctx)
    with transaction(cli.sessions) as session:
        appointment, result = records.mark_appointment(
            session, cli.settings, appointment_id, status, actor=cli.actor, now=utcnow()
        )
        row = appointment_dict(appointment, result)
    _report(row, as_json, f"marked {status.value}:")


@app.command("complete")
def complete(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """The session took place: its follow-up questionnaires stay planned."""
    _mark(ctx, appointment_id, AppointmentStatus.COMPLETED, as_json)


@app.command("no-show")
def no_show(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """The patient did not come: nothing more is sent for this appointment."""
    _mark(ctx, appointment_id, AppointmentStatus.NO_SHOW, as_json)
