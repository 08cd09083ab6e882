"""clinic-worker keys ...: encryption and blind-index keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from cryptography.fernet import Fernet

from worker.cli.context import ctx_of
from worker.cli.output import emit_json, say
from worker.db import audit
from worker.db.engine import cipher_for, transaction
from worker.db.rotation import rotate_all, rotate_indexes

app = typer.Typer(help="Encryption and blind-index keys for patient data.", no_args_is_help=True)


@app.command("generate")
def generate() -> None:
    """Print a new key. For CLINIC_ENCRYPTION_KEYS: put it first, keep the old ones after it,
    run `keys rotate`, then drop the old ones. For CLINIC_BLIND_INDEX_KEYS the same, with
    `keys rotate-index`. Never use one key for both."""
    typer.echo(Fernet.generate_key().decode())


@app.command("rotate")
def rotate(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Re-encrypt every encrypted column (names, phone numbers, replies, answers, scores,
    alerts, stored forms) under the first key of CLINIC_ENCRYPTION_KEYS."""
    cli = ctx_of(ctx)
    counts = rotate_all(cli.sessions, cipher_for(cli.settings), _progress("re-encrypted"))
    with transaction(cli.sessions) as session:
        audit.record(session, cli.actor, "keys.rotate", rows=counts)
    if as_json:
        emit_json(counts)
    else:
        say(", ".join(f"{table}: {n} re-encrypted" for table, n in counts.items()))


@app.command("rotate-index")
def rotate_index(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Recompute every blind index (phone numbers, alert sources) under the first key of
    CLINIC_BLIND_INDEX_KEYS. Lookups match every listed key meanwhile, so nothing is missed
    while it runs; drop the old index key afterwards."""
    cli = ctx_of(ctx)
    counts = rotate_indexes(cli.sessions, cipher_for(cli.settings), _progress("re-indexed"))
    with transaction(cli.sessions) as session:
        audit.record(session, cli.actor, "keys.rotate_index", rows=counts)
    if as_json:
        emit_json(counts)
    else:
        say(", ".join(f"{column}: {n} re-indexed" for column, n in counts.items()))


def _progress(verb: str) -> Callable[[str, int], None]:
    def show(table: str, done: int) -> None:
        # On stderr, so --json output stays one document.
        typer.echo(f"{table}: {done} rows {verb}", err=True)

    return show
