"""The benchmark's seed and the processes it starts must share keys: a worker or web process
finds a seeded patient by phone_index and decrypts its phone, or the benchmark measures
nothing (every inbound text from a stranger, every send failing to decrypt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bench._procs import worker_env
from bench.pipeline import phone_of, seed
from worker.clinic.queries import patient_with_phone
from worker.db.engine import engine_for, make_engine, session_factory
from worker.settings import load_settings


def test_given_a_seeded_bench_database_when_a_process_started_with_the_bench_env_looks_up_a_phone_expect_the_patient(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db_url, 3)
    env = worker_env(db_url, "memory://", "http://127.0.0.1:9", tmp_path)
    for name, value in env.items():
        if name.startswith("CLINIC_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env or development key file from the caller's folder

    engine = engine_for(load_settings())  # as worker, beat and web build theirs
    try:
        with session_factory(engine)() as session:
            patient = patient_with_phone(session, phone_of(2))
            assert patient is not None
            assert (patient.id, patient.phone, patient.name) == (2, phone_of(2), "Bench 2")
    finally:
        engine.dispose()


def test_given_a_seeded_bench_database_when_its_rows_are_read_raw_expect_identifiers_encrypted(
    db_url: str,
) -> None:
    seed(db_url, 2)
    engine = make_engine(db_url)  # no cipher: the stored text as it is
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, phone, phone_index FROM patients ORDER BY id")).all()
            kinds = connection.execute(text("SELECT kind FROM appointments")).scalars().all()
    finally:
        engine.dispose()
    assert all(name.startswith("enc:") and phone.startswith("enc:") for name, phone, _ in rows)
    assert len({index for _, _, index in rows}) == 2 and all(len(index) == 64 for _, _, index in rows)
    assert all(kind.startswith("enc:") for kind in kinds)
