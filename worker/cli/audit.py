"""clinic-worker audit list"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from worker.cli.context import ctx_of
from worker.cli.output import emit
from worker.cli.replies import parse_since
from worker.db import audit
from worker.db.models import AuditEntry

app = typer.Typer(help="The audit trail (append-only).", no_args_is_help=True)


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "patient_id": entry.patient_id,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "detail": entry.detail,
    }


@app.command("list")
def list_(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Only since then: 24h, 7d or an ISO 8601 time.")] = None,
    patient: Annotated[int | None, typer.Option(help="Only this patient.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Who did what, when: consent and opt-outs, sends, statuses, replies, alerts, operators."""
    cli = ctx_of(ctx)
    after = parse_since(since) if since is not None else None
    with cli.sessions() as session:
        rows = [entry_dict(e) for e in audit.entries(session, since=after, patient_id=patient)]
    cli.audit_read("audit.list", patient=patient)
    emit(
        rows,
        as_json=as_json,
        title="Audit trail",
        columns=("id", "at", "actor", "action", "patient_id", "entity", "entity_id", "detail"),
    )
