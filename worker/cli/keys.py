"""clinic-worker keys ...: encryption keys for replies and free-text answers."""

from __future__ import annotations

from typing import Annotated

import typer
from cryptography.fernet import Fernet
from sqlalchemy import text

from worker import audit, crypto
from worker.cli.context import ctx_of
from worker.cli.output import emit_json, say
from worker.db.engine import transaction

app = typer.Typer(help="Encryption keys for what patients write.", no_args_is_help=True)
# (table, column) pairs holding encrypted text. Read and written raw here, on purpose.
ENCRYPTED = (("inbound_messages", "body"), ("questionnaire_answers", "text"))
BATCH = 500


@app.command("generate")
def generate() -> None:
    """Print a new key. Put it first in CLINIC_ENCRYPTION_KEYS, keep the old ones after it,
    run `keys rotate`, then drop the old ones."""
    typer.echo(Fernet.generate_key().decode())


@app.command("rotate")
def rotate(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Re-encrypt every stored reply and free-text answer under the first key."""
    cli = ctx_of(ctx)
    cipher = crypto.Cipher(cli.settings.key_list())
    counts = {}
    for table, column in ENCRYPTED:
        counts[table] = _rotate_table(cli.sessions, cipher, table, column)
    with transaction(cli.sessions) as session:
        audit.record(
            session,
            cli.actor,
            "keys.rotate",
            replies=counts["inbound_messages"],
            answers=counts["questionnaire_answers"],
        )
    if as_json:
        emit_json(counts)
    else:
        say(", ".join(f"{table}: {n} re-encrypted" for table, n in counts.items()))


def _rotate_table(sessions: object, cipher: crypto.Cipher, table: str, column: str) -> int:
    done, last_id = 0, 0
    while True:
        with transaction(sessions) as session:  # type: ignore[arg-type]
            rows = session.execute(
                text(
                    f"SELECT id, {column} FROM {table} WHERE id > :last AND {column} IS NOT NULL "  # noqa: S608
                    "ORDER BY id LIMIT :n"
                ),
                {"last": last_id, "n": BATCH},
            ).all()
            for row_id, stored in rows:
                session.execute(
                    text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),  # noqa: S608
                    {"v": cipher.rotate(stored), "id": row_id},
                )
        if not rows:
            return done
        done += len(rows)
        last_id = rows[-1][0]
