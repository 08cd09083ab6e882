"""clinic-worker appointments ..."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from worker.cli.context import ctx_of
from worker.cli.output import LimitOpt, OffsetOpt, emit, emit_json, page_limit, say, say_page
from worker.clinic import records, schedule
from worker.db.engine import transaction
from worker.db.models import Appointment, utcnow
from worker.enums import AppointmentStatus
from worker.lib import localtime
from worker.messages.replan import ReplanResult

app = typer.Typer(help="Add, move, cancel, import and list appointments.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
StartOpt = Annotated[str, typer.Option("--start", help="ISO 8601; without an offset, in CLINIC_TIMEZONE.")]
COLUMNS = ("id", "start", "patient_id", "patient", "kind", "minutes", "status", "confirmation")


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


def start_text(start_at: datetime, clinic_zone: ZoneInfo, patient_zone: str) -> str:
    """`2026-12-03 10:00 EST` on the clinic's clock (where the visit is, and how --start is
    read), with the patient's own time beside it when they live in another zone."""
    shown = localtime.show(start_at, clinic_zone)
    theirs = ZoneInfo(patient_zone)
    if theirs.key == clinic_zone.key:
        return shown
    if start_at.astimezone(theirs).utcoffset() == start_at.astimezone(clinic_zone).utcoffset():
        return shown
    local = localtime.show(start_at, theirs)
    same_day = local[:10] == shown[:10]
    return f"{shown} (patient: {local[11:] if same_day else local})"


def _report(row: dict[str, Any], as_json: bool, verb: str, start: str) -> None:
    if as_json:
        emit_json(row)
        return
    say(
        f"{verb} appointment {row['id']} ({row['status']}, {start}): "
        f"{row.get('messages_planned', 0)} message(s) planned, "
        f"{row.get('messages_cancelled', 0)} cancelled"
    )


def _changed(
    settings_zone: str, appointment: Appointment, result: ReplanResult
) -> tuple[dict[str, Any], str]:
    """The row for --json and the start for people, read while the session is open."""
    start = start_text(appointment.start_at, ZoneInfo(settings_zone), appointment.patient.timezone)
    return appointment_dict(appointment, result), start


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
        row, shown = _changed(cli.settings.timezone, appointment, result)
    _report(row, as_json, "added", shown)


@app.command("reschedule")
def reschedule(ctx: typer.Context, appointment_id: int, start: StartOpt, as_json: JsonFlag = False) -> None:
    """Move an appointment: pending reminders are cancelled and new ones planned."""
    cli = ctx_of(ctx)
    start_at = records.parse_start(start, cli.settings.timezone)
    with transaction(cli.sessions) as session:
        appointment, result = records.reschedule_appointment(
            session, cli.settings, appointment_id, start_at, actor=cli.actor, now=utcnow()
        )
        row, shown = _changed(cli.settings.timezone, appointment, result)
    _report(row, as_json, "rescheduled", shown)


@app.command("cancel")
def cancel(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """Cancel an appointment and every message not yet sent for it."""
    cli = ctx_of(ctx)
    with transaction(cli.sessions) as session:
        appointment, result = records.cancel_appointment(
            session, cli.settings, appointment_id, actor=cli.actor, now=utcnow()
        )
        row, shown = _changed(cli.settings.timezone, appointment, result)
    _report(row, as_json, "cancelled", shown)


@app.command("reinstate")
def reinstate(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """Undo a cancel made by mistake: scheduled again, its reminders planned again."""
    cli = ctx_of(ctx)
    with transaction(cli.sessions) as session:
        appointment, result = records.reinstate_appointment(
            session, cli.settings, appointment_id, actor=cli.actor, now=utcnow()
        )
        row, shown = _changed(cli.settings.timezone, appointment, result)
    _report(row, as_json, "reinstated", shown)


@app.command("list")
def list_(
    ctx: typer.Context,
    date: Annotated[
        str | None, typer.Option("--date", help="today, tomorrow or YYYY-MM-DD (the clinic's calendar).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="From this local day, time of the day (14:00) or ISO 8601 time."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Before this local day's end, time of the day or ISO 8601 time."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind (any case).")] = None,
    unconfirmed: Annotated[
        bool, typer.Option("--unconfirmed", help="Only those the patient has not confirmed yet.")
    ] = False,
    status: Annotated[AppointmentStatus | None, typer.Option(help="Only this status.")] = None,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
    limit: LimitOpt = None,
    offset: OffsetOpt = 0,
    as_json: JsonFlag = False,
) -> None:
    """List appointments, soonest first, with patients' names and whether they confirmed."""
    cli = ctx_of(ctx)
    zone = ZoneInfo(cli.settings.timezone)
    wanted = schedule.ScheduleFilter(
        window=schedule.window(zone, utcnow(), day=date, start=start, end=end),
        status=status,
        patient_id=patient,
        kind=kind,
        unconfirmed=unconfirmed,
    )
    limit = page_limit(limit, as_json)
    with cli.sessions() as session:
        found, total = schedule.list_schedule(session, wanted, limit=limit, offset=offset)
        rows = [_listed(a, zone) for a in found]
    cli.audit_read(
        "appointments.list",
        patient_ids=[r["patient_id"] for r in rows],
        count=len(rows),
        status=status.value if status else None,
        patient=patient,
        # The day asked for, never the kind: a kind can say what a patient is treated for.
        date=date,
        window=bool(start or end) or None,
        kind=True if kind else None,
        unconfirmed=unconfirmed or None,
        offset=offset or None,
    )
    if as_json:
        emit_json([{k: v for k, v in r.items() if k not in _FOR_PEOPLE} for r in rows])
        return
    emit(rows, as_json=False, title=_title(date, zone), columns=COLUMNS)
    say_page(offset, len(rows), total)


# Columns for people only; --json has start_at (UTC) and duration_minutes instead.
_FOR_PEOPLE = ("start", "patient", "minutes")


def _listed(appointment: Appointment, zone: ZoneInfo) -> dict[str, Any]:
    patient = appointment.patient
    return appointment_dict(appointment) | {
        "patient_name": patient.name,
        "confirmation": schedule.confirmation(appointment.status) or None,
        "start": start_text(appointment.start_at, zone, patient.timezone),
        "patient": patient.name,
        "minutes": appointment.duration_minutes,
    }


def _title(date: str | None, zone: ZoneInfo) -> str:
    return f"Appointments ({date}, {zone.key})" if date else f"Appointments ({zone.key})"


def _mark(ctx: typer.Context, appointment_id: int, status: AppointmentStatus, as_json: bool) -> None:
    cli = ctx_of(ctx)
    with transaction(cli.sessions) as session:
        appointment, result = records.mark_appointment(
            session, cli.settings, appointment_id, status, actor=cli.actor, now=utcnow()
        )
        row, shown = _changed(cli.settings.timezone, appointment, result)
    _report(row, as_json, f"marked {status.value}:", shown)


@app.command("complete")
def complete(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """The session took place: its follow-up questionnaires stay planned."""
    _mark(ctx, appointment_id, AppointmentStatus.COMPLETED, as_json)


@app.command("no-show")
def no_show(ctx: typer.Context, appointment_id: int, as_json: JsonFlag = False) -> None:
    """The patient did not come: nothing more is sent for this appointment."""
    _mark(ctx, appointment_id, AppointmentStatus.NO_SHOW, as_json)
