"""audit rows hash-chained, linked to patients, with the OS user

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 11:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from worker.db.audit import GENESIS, row_hash
from worker.db.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TABLES = ("audit_log", "audit_patients")
# 0005's function, now naming whichever table fired it (it guards audit_patients too).
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql
"""
_PG_FUNCTION_0005 = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$ LANGUAGE plpgsql
"""
# Only the columns this revision knows, typed as the model types them.
_AUDIT = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", UTCDateTime()),
    sa.column("actor", sa.String),
    sa.column("os_user", sa.String),
    sa.column("action", sa.String),
    sa.column("patient_id", sa.Integer),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.Integer),
    sa.column("detail", sa.JSON),
    sa.column("note", sa.Text),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)
_BATCH = 2000


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _drop_guards(tables: tuple[str, ...]) -> None:
    for table in tables:
        if _postgres():
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            continue
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def _create_guards(tables: tuple[str, ...]) -> None:
    for table in tables:
        if _postgres():
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
            )
            continue
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def upgrade() -> None:
    # The chain is written into rows the triggers protect: lift them for this one step.
    _drop_guards(("audit_log",))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("os_user", sa.String(100), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    links = _chain_existing_rows()
    # Before audit_patients exists: on SQLite this copies audit_log, which no row may reference.
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
    op.create_table(
        "audit_patients",
        sa.Column("audit_id", sa.Integer(), sa.ForeignKey("audit_log.id"), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", "patient_id"),
    )
    op.create_index("ix_audit_patients_patient_id", "audit_patients", ["patient_id"])
    if links:
        op.bulk_insert(
            sa.table("audit_patients", sa.column("audit_id"), sa.column("patient_id")),
            [{"audit_id": a, "patient_id": p} for a, ids in links.items() for p in ids],
        )
    if _postgres():
        op.execute(_PG_FUNCTION)
        _revoke_changes(_TABLES)
    _create_guards(_TABLES)


def _revoke_changes(tables: tuple[str, ...]) -> None:
    """Whoever was granted more than SELECT and INSERT here (the application role, through
    the owner's default privileges: worker.db.roles) loses it, whoever runs this migration."""
    for table in tables:
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {table} FROM PUBLIC")
        grantees = op.get_bind().execute(
            sa.text(
                "SELECT DISTINCT r.rolname FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a "
                "JOIN pg_roles r ON r.oid = a.grantee "
                "WHERE c.oid = CAST(:table AS regclass) AND a.grantee <> c.relowner "
                "AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')"
            ),
            {"table": table},
        )
        for (grantee,) in grantees:
            quoted = grantee.replace('"', '""')
            op.execute(f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {table} FROM "{quoted}"')


def _chain_existing_rows() -> dict[int, list[int]]:
    """Hash the rows already there in id order; the patients each one concerns, by id."""
    bind = op.get_bind()
    prev, after = GENESIS, 0
    links: dict[int, list[int]] = {}
    while True:
        query = sa.select(_AUDIT).where(_AUDIT.c.id > after).order_by(_AUDIT.c.id).limit(_BATCH)
        rows = bind.execute(query).all()
        if not rows:
            return links
        updates = []
        for row in rows:
            linked = _patients_of(row)
            if linked:
                links[row.id] = linked
            digest = row_hash(prev, row, linked)
            updates.append({"row_id": row.id, "prev": prev, "digest": digest})
            prev = digest
        bind.execute(
            _AUDIT.update()
            .where(_AUDIT.c.id == sa.bindparam("row_id"))
            .values(prev_hash=sa.bindparam("prev"), hash=sa.bindparam("digest")),
            updates,
        )
        after = rows[-1].id


def _patients_of(row: Any) -> list[int]:
    # Reads before issue 18 kept the patient they showed in detail["patient"].
    found = {row.patient_id} if row.patient_id is not None else set()
    shown = (row.detail or {}).get("patient") if isinstance(row.detail, dict) else None
    if isinstance(shown, int) and not isinstance(shown, bool):
        found.add(shown)
    return sorted(found)


def downgrade() -> None:
    _drop_guards(_TABLES)
    op.drop_index("ix_audit_patients_patient_id", table_name="audit_patients")
    op.drop_table("audit_patients")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("os_user")
    if _postgres():
        op.execute(_PG_FUNCTION_0005)
    _create_guards(("audit_log",))
