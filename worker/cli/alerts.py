"""clinic-worker alerts ...: who may be in danger, who was told when, and closing the loop."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from worker.cli.context import ctx_of
from worker.cli.output import emit, emit_json, say
from worker.db.engine import transaction
from worker.db.models import AlertTrigger, SafetyAlert, utcnow
from worker.jobs.queueing import enqueue_sends
from worker.safety.acks import acknowledge_and_tell
from worker.safety.alerts import list_alerts, triggers_of
from worker.safety.notices import Told, told_about

app = typer.Typer(help="Safety alerts: list and acknowledge.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
COLUMNS = ("id", "status", "patient_id", "summary", "created_at", "more_texts", "told", "acknowledged_by")


def alert_dict(alert: SafetyAlert, told: list[Told], triggers: list[AlertTrigger]) -> dict[str, Any]:
    return {
        "id": alert.id,
        "patient_id": alert.patient_id,
        "source": alert.source,
        "category": alert.category,
        "rule": alert.rule,
        "summary": alert.summary,
        "created_at": alert.created_at,
        "status": "acknowledged" if alert.acknowledged_at else "open",
        "notified_count": alert.notified_count,
        "last_notified_at": alert.last_notified_at,
        "more_texts": alert.more_texts,
        "escalation_level": alert.escalation_level,
        "told": [
            {
                "to": t.to_number,
                "text": t.template,
                "status": t.status,
                "queued_at": t.queued_at,
                "sent_at": t.sent_at,
            }
            for t in told
        ],
        "triggers": [
            {
                "source": t.source,
                "category": t.category,
                "rule": t.rule,
                "inbound_id": t.inbound_id,
                "at": t.created_at,
            }
            for t in triggers
        ],
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "note": alert.note,
        "inbound_id": alert.inbound_id,
        "run_id": alert.run_id,
    }


def _told_line(told: list[dict[str, Any]]) -> str:
    """`+1******0177 03:01 sent; +1******0178 03:11 queued`: who was told when, at a glance."""
    parts = []
    for t in told:
        at = t["sent_at"] or t["queued_at"]
        parts.append(f"{t['to']} {at:%H:%M} {t['status']}" if at else f"{t['to']} {t['status']}")
    return "; ".join(parts)


@app.command("list")
def alerts_list(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only alerts nobody acknowledged.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Safety alerts, newest first, with who was texted when (`told`) and what raised them."""
    cli = ctx_of(ctx)
    with cli.sessions() as session:
        found = list_alerts(session, open_only=open_only)
        ids = [a.id for a in found]
        told, triggers = told_about(session, ids), triggers_of(session, ids)
        rows = [alert_dict(a, told[a.id], triggers[a.id]) for a in found]
    cli.audit_read(
        "alerts.list", patient_ids=[r["patient_id"] for r in rows], count=len(rows), open_only=open_only
    )
    if as_json:
        emit_json(rows)
        return
    table = [{**row, "told": _told_line(row["told"])} for row in rows]
    emit(table, as_json=False, title="Safety alerts", columns=COLUMNS)


@app.command("ack")
def alerts_ack(
    ctx: typer.Context,
    alert_id: int,
    by: Annotated[str, typer.Option("--by", help="Who took care of it.")],
    note: Annotated[str | None, typer.Option(help="What was done.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Acknowledge an alert: nobody is texted about it again; those who were are told it is closed."""
    cli = ctx_of(ctx)
    with transaction(cli.sessions) as session:
        alert, closure_texts = acknowledge_and_tell(session, alert_id, by=by, note=note, now=utcnow())
        row = alert_dict(
            alert, told_about(session, [alert.id])[alert.id], triggers_of(session, [alert.id])[alert.id]
        )
    enqueue_sends(cli.settings, closure_texts, urgent=True)  # else the dispatcher sends them
    if as_json:
        emit_json(row)
    else:
        say(f"alert {alert_id} acknowledged by {row['acknowledged_by']}")
