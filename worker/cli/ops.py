"""Running the processes and checking the installation: db, worker, beat, web, doctor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from worker.cli.context import ctx_of
from worker.cli.db_roles import db_roles
from worker.cli.output import emit_json, say, say_error, say_status
from worker.db.engine import cipher_for, require_database
from worker.db.migrate import upgrade
from worker.db.roles import restrict_audit_grants, with_driver
from worker.health.checks import doctor_checks
from worker.jobs.celery_app import app, attach_settings
from worker.jobs.heartbeats import BEAT, URGENT_WORKER, WORKER, check_heartbeat
from worker.lib.logs import configure_logging
from worker.metrics.folder import prepare_metrics_dir
from worker.settings import Settings, insecure_public_url_warning, require_clinic_phone, urgent_queue
from worker.web.serve import serve

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="CLINIC_DATABASE_OWNER_URL",
            help="Migrate as this connection, the owner role's (default: CLINIC_DATABASE_URL).",
        ),
    ] = None,
) -> None:
    """Create or migrate the schema to the current version."""
    settings = ctx_of(ctx).settings
    target = with_driver(url) if url else settings.database_url
    upgrade(target, cipher=cipher_for(settings))
    restrict_audit_grants(target)
    say("database schema is up to date")


db_app.command("roles")(db_roles)


def _ready_to_send(settings: Settings) -> None:
    """What every process that sends needs before it starts: the clinic's phone (crisis and
    HELP texts give it) and an existing database (never an empty one made by accident)."""
    require_clinic_phone(settings)
    require_database(settings.database_url)
    warning = insecure_public_url_warning(settings)
    if warning:
        say_error(warning, prefix="warning: ")


def _celery(settings: Settings) -> object:
    attach_settings(app, settings)
    configure_logging(settings.log_level, settings.log_format)
    return app


def run_worker(ctx: typer.Context) -> None:
    """Run a Celery worker (extra arguments go to `celery worker`).

    `--urgent-only`: take only the urgent queue (safety texts, replies, beat's jobs), for a
    worker that a burst of reminders can never keep busy.

    `--check` (with `--urgent-only` for that worker): exit 0 if this container's worker is
    taking tasks (its heartbeat is fresh), 1 otherwise; for health checks."""
    settings = ctx_of(ctx).settings
    if CHECK in ctx.args:
        _check(settings, URGENT_WORKER if URGENT_ONLY in ctx.args else WORKER, ctx.args)
    _ready_to_send(settings)  # it sends crisis texts, which give the clinic's number
    prepare_metrics_dir(settings)  # before the pool's processes start: they inherit it
    app = _celery(settings)
    args = [a for a in ctx.args if a != URGENT_ONLY]
    if URGENT_ONLY in ctx.args:
        queues = ["-Q", urgent_queue(settings)]
    elif {"-Q", "--queues"} & set(args):
        queues = []
    else:
        queues = ["-Q", f"{settings.queue_name},{urgent_queue(settings)}"]
    app.worker_main(argv=["worker", "--loglevel", settings.log_level, *queues, *args])  # type: ignore[attr-defined]


URGENT_ONLY = "--urgent-only"
CHECK = "--check"


def _check(settings: Settings, role: str, args: list[str]) -> None:
    """`worker --check` / `beat --check`: the health check of an orchestrator, run in the
    process's own container. Reads this container's heartbeat file; connects to nothing."""
    extra = [a for a in args if a not in {CHECK, URGENT_ONLY}]
    if extra:
        raise typer.BadParameter(f"--check takes no other arguments (got {' '.join(extra)})")
    ok, line = check_heartbeat(settings, role)
    say_status(ok, line)
    raise typer.Exit(0 if ok else 1)


def run_beat(ctx: typer.Context) -> None:
    """Run Celery beat, which starts the dispatcher every CLINIC_DISPATCH_INTERVAL seconds.

    `--check`: exit 0 if this container's beat is ticking or standing by (its heartbeat is
    fresh), 1 otherwise; for health checks."""
    settings = ctx_of(ctx).settings
    if CHECK in ctx.args:
        _check(settings, BEAT, ctx.args)
    _ready_to_send(settings)
    if settings.redis_url.startswith("memory://"):
        raise typer.BadParameter("beat needs Redis; CLINIC_REDIS_URL is memory://")
    app = _celery(settings)
    app.start(argv=["beat", "--loglevel", settings.log_level, *ctx.args])  # type: ignore[attr-defined]


def run_web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes (one per core is right).")
    ] = 1,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            envvar="CLINIC_FORWARDED_ALLOW_IPS",
            help="The proxy's address(es), comma-separated: only its X-Forwarded-* headers are believed.",
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve the webhooks, the health checks and /metrics with uvicorn."""
    settings = ctx_of(ctx).settings
    _ready_to_send(settings)
    configure_logging(settings.log_level, settings.log_format)
    prepare_metrics_dir(settings)  # before uvicorn starts its server processes
    serve(settings, host, port, workers, forwarded_allow_ips)


def doctor(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the settings, database, migrations, Redis, beat, the queue, the templates and the
    SMS credentials; name every placeholder left from config/example.env."""
    checks = doctor_checks(ctx_of(ctx).settings, Path.cwd())
    if as_json:
        emit_json({name: check.as_report() for name, check in checks.items()})
    else:
        for name, check in checks.items():
            say_status(check.ok, f"{name:<9} {check.detail}")
            for warning in check.warnings:
                say(f"WARN  {name:<9} {warning}")
    if not all(check.ok for check in checks.values()):
        raise typer.Exit(1)
