"""The cipher that encrypts what patients write is carried by the engine that writes it.

An engine made without one can still read and write every other column; the first
encrypted value it meets raises MissingCipher, so a script that forgot the keys fails with
one clear line instead of writing plaintext or reading tokens back as text.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect

from worker.lib.crypto import Cipher
from worker.lib.errors import ClinicWorkerError

# Each engine has a dialect object of its own: the cipher rides on it, so that a column type
# (which is handed the dialect, not the engine or session) finds the cipher of its engine.
_ATTRIBUTE = "clinic_worker_cipher"


class MissingCipher(ClinicWorkerError):
    """An encrypted column was used through an engine built without the encryption keys."""


def attach_cipher(engine: Engine, cipher: Cipher) -> None:
    setattr(engine.dialect, _ATTRIBUTE, cipher)


def cipher_of(dialect: Dialect) -> Cipher:
    cipher: Cipher | None = getattr(dialect, _ATTRIBUTE, None)
    if cipher is None:
        raise MissingCipher(
            "this database engine has no encryption key: build it with engine_for(settings) "
            "(or make_engine(url, cipher=...)); nothing was read or written"
        )
    return cipher
