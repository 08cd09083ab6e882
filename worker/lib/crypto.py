"""Encryption at rest for identifiers and health data (see docs/privacy.md).

Values are Fernet tokens (AES-128-CBC with HMAC-SHA256) under the keys of
CLINIC_ENCRYPTION_KEYS: new writes use the first key, every key still reads, and
`clinic-worker keys rotate` re-encrypts old rows under the first. Each entry point builds
its Cipher from its Settings and hands it to the engine that needs it (worker.db.cipher);
there is no process-wide cipher, and nothing is read at import.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from worker.lib.errors import ClinicWorkerError
from worker.lib.files import PRIVATE_MODE

PREFIX = "enc:"
DEV_KEY_FILE = ".clinic-worker-dev.key"
DEV_INDEX_KEY_FILE = ".clinic-worker-dev-index.key"


class DecryptError(ClinicWorkerError):
    """A stored value no configured key can read (a key was removed too early)."""


class MissingIndexKey(ClinicWorkerError):
    """A lookup by phone number was attempted through a cipher built without index keys."""


class Cipher:
    """Fernet for values, and a blind index for the few that are looked up or kept unique.

    The blind index is an HMAC-SHA256 under keys of its own (CLINIC_BLIND_INDEX_KEYS): a stolen
    database holds neither the encryption nor the index keys, so an index value cannot be
    checked against a list of phone numbers. Lookups try every index key, so rotating them
    (`keys rotate-index`) needs no downtime.
    """

    def __init__(self, keys: list[str], index_keys: list[str] | None = None) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        self._index_keys = [base64.urlsafe_b64decode(key.encode()) for key in index_keys or []]

    def index(self, value: str) -> str:
        """The blind index of `value` under the newest index key (what new rows store)."""
        return self.indexes(value)[0]

    def indexes(self, value: str) -> list[str]:
        """Its blind index under every index key, newest first (what lookups match)."""
        if not self._index_keys:
            raise MissingIndexKey("no blind-index key: set CLINIC_BLIND_INDEX_KEYS")
        data = value.encode("utf-8")
        return [hmac.new(key, data, hashlib.sha256).hexdigest() for key in self._index_keys]

    def encrypt(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before encryption was turned on; `keys rotate` fixes it
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise DecryptError("a stored reply cannot be decrypted with CLINIC_ENCRYPTION_KEYS") from None

    def rotate(self, stored: str) -> str:
        """The same value under the first key (and encrypted if it was not)."""
        if not stored.startswith(PREFIX):
            return self.encrypt(stored)
        return PREFIX + self._fernet.rotate(stored[len(PREFIX) :].encode("ascii")).decode("ascii")


def check_key(key: str) -> None:
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ValueError("is not a Fernet key (make one with `clinic-worker keys generate`)") from None


def dev_key(folder: Path, name: str = DEV_KEY_FILE) -> str:
    """Development only (console backend, no key set): one key kept in the working folder, so
    the CLI, web and worker started there read each other's rows."""
    path = folder / name
    if not path.exists():
        _write_private(path, Fernet.generate_key())
    return path.read_text().strip()


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the first byte (write-then-chmod leaves a moment where any local user
    # can read the key), complete before it has its name (a process starting at the same
    # time never reads a half-written key), and never replacing a key another process made.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
