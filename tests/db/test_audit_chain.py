"""The audit trail's hash chain: concurrent writers keep one chain; any change shows in verify."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_CIPHER, Cli, temporary_database
from worker.db import audit
from worker.db.audit import GENESIS
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.migrate import upgrade
from worker.db.models import AuditEntry


def _write(sessions: sessionmaker[Session], count: int, actor: str = "worker") -> None:
    with transaction(sessions) as session:
        for n in range(count):
            audit.record(session, actor, "message.sent", patient_id=n % 3 + 1, entity="message", entity_id=n)


_GUARDED = ("audit_log", "audit_patients")


@contextmanager
def _unguarded(engine: Engine) -> Iterator[None]:
    """What the owner, or anyone with the SQLite file, can do: lift the append-only triggers."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        for table in _GUARDED:
            if sqlite:
                connection.execute(text(f"DROP TRIGGER {table}_no_update"))
                connection.execute(text(f"DROP TRIGGER {table}_no_delete"))
            else:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
    try:
        yield
    finally:
        with engine.begin() as connection:
            for table in _GUARDED:
                if not sqlite:
                    connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))
                    continue
                for verb in ("UPDATE", "DELETE"):
                    connection.execute(
                        text(
                            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                        )
                    )


def test_given_writers_on_separate_connections_at_once_when_verified_expect_one_unbroken_chain(
    db_url: str,
) -> None:
    engines = [make_engine(db_url, cipher=TEST_CIPHER) for _ in range(4)]
    errors: list[BaseException] = []

    def writer(engine: Engine, name: str) -> None:
        try:
            for _ in range(15):
                _write(session_factory(engine), 5, actor=name)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(e, f"w{i}")) for i, e in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_factory(engines[0])() as session:
        verdict = audit.verify(session, batch=7)  # small batches: the walk crosses them
        hashes = session.execute(text("SELECT prev_hash FROM audit_log")).scalars().all()
    for engine in engines:
        engine.dispose()
    assert verdict.ok, verdict.reason
    assert verdict.rows == 4 * 15 * 5
    assert len(set(hashes)) == len(hashes)  # no two rows follow the same row: no fork


def test_given_rows_in_a_savepoint_rolled_back_when_more_rows_follow_expect_the_chain_unbroken(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        audit.record(session, "worker", "first")
        session.flush()
        with pytest.raises(RuntimeError), session.begin_nested():
            audit.record(session, "worker", "undone")
            session.flush()
            raise RuntimeError("rolled back")
        audit.record(session, "worker", "second")
        session.flush()
        audit.record(session, "worker", "third")
    with sessions() as session:
        verdict = audit.verify(session)
        actions = [e.action for e in audit.entries(session)]
    assert actions == ["first", "second", "third"]
    assert verdict.ok, verdict.reason


def test_given_linked_rows_around_a_savepoint_rolled_back_when_read_expect_only_the_kept_links(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        audit.record(session, "worker", "first", patient_ids=[1, 2])
        session.flush()
        with pytest.raises(RuntimeError), session.begin_nested():
            audit.record(session, "worker", "undone", patient_ids=[3])
            session.flush()
            raise RuntimeError("rolled back")
        audit.record(session, "worker", "second", patient_id=4, patient_ids=[5])
        session.flush()
        # Read back in the same transaction, the links are the database's, not a stale copy.
        in_transaction = [(e.action, audit.linked_ids(e)) for e in audit.entries(session)]
    with sessions() as session:
        after_commit = [(e.action, audit.linked_ids(e)) for e in audit.entries(session)]
        verdict = audit.verify(session)
        undone = audit.entries(session, patient_id=3)
    assert in_transaction == after_commit == [("first", [1, 2]), ("second", [4, 5])]
    assert undone == []
    assert verdict.ok, verdict.reason


def test_given_a_failed_flush_rolled_back_when_more_rows_follow_expect_no_links_from_the_failed_one(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        audit.record(session, "worker", "failed", patient_ids=[7])
        session.add(AuditEntry(actor=None, action="broken"))  # NOT NULL: the flush fails
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        audit.record(session, "worker", "kept", patient_ids=[8])
        session.commit()
    with sessions() as session:
        found = [(e.action, audit.linked_ids(e)) for e in audit.entries(session)]
        verdict = audit.verify(session)
    assert found == [("kept", [8])]
    assert verdict.ok, verdict.reason


def test_given_a_field_updated_behind_the_triggers_when_verified_expect_that_row_named(
    sessions: sessionmaker[Session],
) -> None:
    _write(sessions, 5)
    engine = sessions.kw["bind"]
    with _unguarded(engine), engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'someone else' WHERE id = 3"))
    with sessions() as session:
        verdict = audit.verify(session)
    assert (verdict.ok, verdict.rows, verdict.first_broken) == (False, 2, 3)
    assert verdict.reason == "audit row 3: hash does not match (changed after it was written)"


def test_given_a_linked_patient_removed_when_verified_expect_that_row_named(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        audit.record(session, "operator:dana", "patients.list", patient_ids=[7, 8])
        audit.record(session, "operator:dana", "patients.list", patient_ids=[7, 8])
    engine = sessions.kw["bind"]
    with _unguarded(engine), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_patients WHERE audit_id = 2 AND patient_id = 8"))
    with sessions() as session:
        assert audit.verify(session).first_broken == 2


def test_given_a_middle_row_deleted_when_verified_expect_the_next_row_named(
    sessions: sessionmaker[Session],
) -> None:
    _write(sessions, 5)
    engine = sessions.kw["bind"]
    with _unguarded(engine), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_patients WHERE audit_id = 3"))
        connection.execute(text("DELETE FROM audit_log WHERE id = 3"))
    with sessions() as session:
        verdict = audit.verify(session)
    assert (verdict.ok, verdict.first_broken) == (False, 4)
    assert verdict.reason == "audit row 4: prev_hash does not follow row 2 (a row was removed or inserted)"


def test_given_a_row_replaced_by_a_forged_one_with_a_correct_own_hash_when_verified_expect_the_next_row_named(
    sessions: sessionmaker[Session],
) -> None:
    _write(sessions, 4)
    engine = sessions.kw["bind"]
    with sessions() as session:
        original = audit.entries(session)[2]
        forged_hash = audit.row_hash(original.prev_hash, _Forged(original), audit.linked_ids(original))
    with _unguarded(engine), engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_log SET action = 'nothing.happened', hash = :h WHERE id = 3"),
            {"h": forged_hash},
        )
    with sessions() as session:
        verdict = audit.verify(session)
    assert (verdict.ok, verdict.first_broken) == (False, 4)


def test_given_a_forged_row_inserted_in_the_middle_with_a_correct_own_hash_when_verified_expect_the_row_after_it_named(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        for action in ("one", "two", "three", "four"):
            audit.record(session, "worker", action)
    engine = sessions.kw["bind"]
    with sessions() as session:
        second = audit.entries(session)[1]
        forged = _Forged(second)
        forged.id, forged.action = 3, "nothing.happened"
        forged_hash = audit.row_hash(second.hash, forged, [])
    with _unguarded(engine), engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET id = id + 10 WHERE id >= 3"))  # make room
        connection.execute(
            text(
                "INSERT INTO audit_log (id, at, actor, os_user, action, prev_hash, hash) "
                "VALUES (3, :at, 'worker', :os_user, 'nothing.happened', :prev, :hash)"
            ),
            {"at": second.at, "os_user": second.os_user, "prev": second.hash, "hash": forged_hash},
        )
    with sessions() as session:
        verdict = audit.verify(session)
    assert (verdict.ok, verdict.rows, verdict.first_broken) == (False, 3, 13)
    assert verdict.reason == "audit row 13: prev_hash does not follow row 3 (a row was removed or inserted)"


class _Forged:
    def __init__(self, entry: audit.AuditEntry) -> None:
        self.__dict__.update({c.key: getattr(entry, c.key) for c in entry.__table__.columns})
        self.action = "nothing.happened"


def test_given_an_empty_trail_when_verified_expect_ok_with_no_rows(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert audit.verify(session) == audit.Verdict(True, 0, head=GENESIS)


def test_given_rows_linking_patients_when_listed_by_patient_expect_every_row_that_links_them(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        audit.record(session, "operator:dana", "patients.list", patient_ids=[1, 2, 3], count=3)
        audit.record(session, "operator:dana", "patient.opt_out", patient_id=2)
        audit.record(session, "operator:sam", "results.show", patient_ids=[3], run=9)
    with sessions() as session:
        found = [(e.action, audit.linked_ids(e)) for e in audit.entries(session, patient_id=2)]
        rows = audit.entries(session)
    assert found == [("patients.list", [1, 2, 3]), ("patient.opt_out", [2])]
    assert all(e.os_user is not None and e.os_user.startswith("os:") for e in rows)


def test_given_rows_written_before_the_chain_when_migrated_expect_them_chained_and_linked(
    fresh_url: str,
) -> None:
    upgrade(fresh_url, "0009")
    engine = make_engine(fresh_url, cipher=TEST_CIPHER)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, patient_id, detail) VALUES "
                "(:at, 'operator:dana', 'patient.add', 1, :add), "
                "(:at, 'operator:sam', 'patients.show', NULL, :show), "
                "(:at, 'worker', 'message.status', NULL, NULL)"
            ),
            {"at": "2026-11-30 10:00:00.250000", "add": '{"consent": true}', "show": '{"patient": 2}'},
        )
    upgrade(fresh_url)
    sessions = session_factory(engine)
    _write(sessions, 2)
    with sessions() as session:
        verdict = audit.verify(session)
        shown = [e.action for e in audit.entries(session, patient_id=2)]
    engine.dispose()
    assert (verdict.ok, verdict.rows) == (True, 5)
    assert shown == ["patients.show", "message.sent"]


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of the test's own, to migrate step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fresh') / 'fresh.sqlite3'}"
        return
    with temporary_database("cw_fresh") as url:
        yield url


def test_given_a_changed_row_when_audit_verify_runs_expect_exit_1_naming_it(cli: Cli) -> None:
    cli.run("--by", "dana", "patients", "add", "--name", "Ana Example", "--phone", "+12025550143")
    cli.run("--by", "dana", "patients", "list")
    intact = cli.json("audit", "verify")
    assert intact["ok"] is True and intact["rows"] >= 2 and intact["first_broken"] is None
    assert "verified" in cli.run("audit", "verify").stdout
    engine = make_engine(cli.env["CLINIC_DATABASE_URL"], cipher=TEST_CIPHER)
    with _unguarded(engine), engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'operator:nobody' WHERE id = 1"))
    engine.dispose()
    broken = cli.run("audit", "verify", "--json", ok=False)
    assert broken.returncode == 1
    assert '"first_broken": 1' in broken.stdout
    plain = cli.run("audit", "verify", ok=False)
    assert plain.returncode == 1
    assert "audit row 1: hash does not match (changed after it was written)" in plain.stdout
