"""`clinic-worker`: the operator's command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from worker.cli import (
    alerts,
    appointments,
    audit,
    import_csv,
    keys,
    messages,
    ops,
    patients,
    questionnaires,
    replies,
)
from worker.cli.context import CliContext
from worker.cli.demo import run_demo
from worker.cli.output import say_error
from worker.db.errors import describe, our_error
from worker.lib.actors import clean_actor
from worker.lib.errors import ClinicWorkerError, ConfigError

app = typer.Typer(
    help="Appointment reminders and check-ins by SMS for outpatient clinics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ops.db_app, name="db")
app.add_typer(patients.app, name="patients")
app.add_typer(appointments.app, name="appointments")
app.add_typer(messages.app, name="messages")
app.add_typer(messages.send_app, name="send")
app.add_typer(replies.app, name="replies")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(questionnaires.app, name="questionnaires")
app.add_typer(questionnaires.results_app, name="results")
app.add_typer(alerts.app, name="alerts")
messages.send_app.command("checkin")(questionnaires.send_checkin)
appointments.app.command("import")(import_csv.import_)
app.command("worker", context_settings=ops.PASS_THROUGH)(ops.run_worker)
app.command("beat", context_settings=ops.PASS_THROUGH)(ops.run_beat)
app.command("web")(ops.run_web)
app.command("doctor")(ops.doctor)


@app.command("demo")
def demo(
    redis_url: Annotated[
        str, typer.Option(help="Redis to use if it answers; else an in-process broker.")
    ] = "redis://localhost:6379/0",
) -> None:
    """Run the whole pipeline on throwaway defaults (console SMS) and finish in under a minute."""
    run_demo(redis_url)


@app.callback()
def root(
    ctx: typer.Context,
    by: Annotated[
        str | None, typer.Option("--by", help="Who is acting, for the audit trail (default: OS user).")
    ] = None,
) -> None:
    # Checked before any command runs, so a bad name writes nothing anywhere.
    ctx.obj = CliContext(by=None if by is None else clean_actor(by))


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        for problem in exc.problems:
            say_error(problem)
        sys.exit(2)
    except ClinicWorkerError as exc:
        say_error(str(exc))
        sys.exit(1)
    except Exception as exc:
        ours = our_error(exc)
        line = str(ours) if ours is not None else describe(exc)
        if line is None:
            raise
        say_error(line)
        sys.exit(1)
