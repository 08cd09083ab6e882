"""Replies and free-text answers are encrypted at rest; keys rotate without losing a row."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from tests.conftest import TEST_CIPHER, TEST_KEY, Cli
from tests.webhooks import inbound_form
from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import utcnow
from worker.inbound.store import store_inbound
from worker.lib.crypto import Cipher, DecryptError
from worker.lib.errors import ConfigError
from worker.settings import load_settings

SECRET_REPLY = "I feel hopeless tonight, please call me"


def _store(cli: Cli, body: str) -> None:
    keys = Cipher([k for k in cli.env["CLINIC_ENCRYPTION_KEYS"].split(",") if k])
    sessions = session_factory(make_engine(cli.env["CLINIC_DATABASE_URL"], cipher=keys))
    with transaction(sessions) as session:
        store_inbound(session, {k: [v] for k, v in inbound_form(body, "+12025550143")}, "webhook", utcnow())


def _raw_bodies(cli: Cli) -> list[str]:
    engine = make_engine(cli.env["CLINIC_DATABASE_URL"], cipher=TEST_CIPHER)
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT body FROM inbound_messages ORDER BY id"))]


def test_a_copied_database_shows_no_reply_text(cli: Cli) -> None:
    _store(cli, SECRET_REPLY)
    assert cli.json("replies", "list")[0]["body"] == SECRET_REPLY  # staff read it through the CLI
    assert all(body.startswith("enc:") for body in _raw_bodies(cli))
    url = cli.env["CLINIC_DATABASE_URL"]
    if url.startswith("sqlite"):
        database = Path(url.removeprefix("sqlite:///"))
        data = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert b"hopeless" not in data and SECRET_REPLY.encode() not in data


def test_rotation_moves_every_row_to_the_new_key_and_old_keys_still_read(cli: Cli) -> None:
    _store(cli, SECRET_REPLY)
    new = Fernet.generate_key().decode()
    cli.env["CLINIC_ENCRYPTION_KEYS"] = f"{new},{TEST_KEY}"
    assert cli.json("replies", "list")[0]["body"] == SECRET_REPLY  # the old key still reads
    counts = cli.json("keys", "rotate")
    assert counts["inbound_messages"] == 1 and counts["questionnaire_answers"] == 0
    assert {"patients", "appointments", "safety_alerts", "alert_triggers"} <= set(counts)
    cli.env["CLINIC_ENCRYPTION_KEYS"] = new  # the old key is gone
    assert cli.json("replies", "list")[0]["body"] == SECRET_REPLY
    cli.env["CLINIC_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()  # a wrong key: a clear error
    result = cli.run("replies", "list", ok=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: a stored reply cannot be decrypted with CLINIC_ENCRYPTION_KEYS"


def test_rows_from_before_encryption_are_read_and_encrypted_by_rotate(cli: Cli) -> None:
    _store(cli, "placeholder")
    engine = make_engine(cli.env["CLINIC_DATABASE_URL"], cipher=TEST_CIPHER)
    with engine.begin() as connection:
        connection.execute(text("UPDATE inbound_messages SET body = 'old plain text'"))
    assert cli.json("replies", "list")[0]["body"] == "old plain text"
    cli.json("keys", "rotate")
    assert _raw_bodies(cli)[0].startswith("enc:")
    assert cli.json("replies", "list")[0]["body"] == "old plain text"


def test_production_settings_without_a_key_stop_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_FROM_NUMBER": "+12025550100",
    }.items():
        monkeypatch.setenv(f"CLINIC_{name}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems == [
        "settings: CLINIC_SMS_BACKEND=twilio needs CLINIC_ENCRYPTION_KEYS (patient data is stored "
        "encrypted), CLINIC_BLIND_INDEX_KEYS (phone numbers are looked up by a keyed index)"
    ]
    monkeypatch.setenv("CLINIC_ENCRYPTION_KEYS", "not-a-key")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert bad.value.problems[0].startswith("CLINIC_ENCRYPTION_KEYS: key 1 is not a Fernet key")
    assert "not-a-key" not in str(bad.value)


def test_a_value_under_an_unknown_key_is_a_clear_error() -> None:
    token = Cipher([Fernet.generate_key().decode()]).encrypt("x")
    with pytest.raises(DecryptError):
        Cipher([Fernet.generate_key().decode()]).decrypt(token)


def test_keys_generate_prints_a_usable_key(cli: Cli) -> None:
    key = cli.run("keys", "generate").stdout.strip()
    assert Cipher([key]).decrypt(Cipher([key]).encrypt("ok")) == "ok"


def test_an_engine_without_keys_refuses_encrypted_columns_and_writes_nothing(tmp_path: Path) -> None:
    from sqlalchemy.exc import StatementError

    from worker.db.cipher import MissingCipher
    from worker.db.errors import our_error
    from worker.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'bare.sqlite3'}"
    upgrade(url)
    sessions = session_factory(make_engine(url))  # given: no cipher
    with pytest.raises(StatementError) as raised, transaction(sessions) as session:
        store_inbound(
            session, {k: [v] for k, v in inbound_form("hello", "+12025550143")}, "webhook", utcnow()
        )
    assert isinstance(our_error(raised.value), MissingCipher)  # the CLI prints it as one line
    assert "no encryption key" in str(our_error(raised.value))
    with make_engine(url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM inbound_messages")).scalar() == 0


def test_index_rotation_keeps_every_patient_findable_by_phone(cli: Cli) -> None:
    # Given a patient indexed under the old index key
    cli.run("patients", "add", "--name", "Ana Example", "--phone", "+12025550143")
    old = cli.env["CLINIC_BLIND_INDEX_KEYS"]
    new = Fernet.generate_key().decode()
    # When the new key goes first, the old one still finds the patient (the number is taken)
    cli.env["CLINIC_BLIND_INDEX_KEYS"] = f"{new},{old}"
    assert (
        "already exists"
        in cli.run("patients", "add", "--name", "B", "--phone", "+12025550143", ok=False).stderr
    )
    # and rotate-index re-indexes every row under the new key
    counts = cli.json("keys", "rotate-index")
    assert counts["patients.phone_index"] == 1 and "alert_triggers.source_index" in counts
    # Expect the patient found with the old key gone
    cli.env["CLINIC_BLIND_INDEX_KEYS"] = new
    assert (
        "already exists"
        in cli.run("patients", "add", "--name", "B", "--phone", "+12025550143", ok=False).stderr
    )
    engine = make_engine(cli.env["CLINIC_DATABASE_URL"])
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT phone_index FROM patients")).scalar()
    assert stored == Cipher([TEST_KEY], [new]).index("+12025550143")
    assert "+12025550143" not in str(stored)


def test_the_blind_index_is_keyed_equal_numbers_match_and_other_keys_do_not() -> None:
    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    cipher = Cipher([TEST_KEY], [key])
    assert cipher.index("+12025550143") == cipher.index("+12025550143") != cipher.index("+12025550144")
    assert Cipher([TEST_KEY], [other]).index("+12025550143") != cipher.index("+12025550143")
    assert Cipher([TEST_KEY], [other, key]).indexes("+12025550143")[1] == cipher.index("+12025550143")
