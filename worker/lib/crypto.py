"""Encryption at rest for what patients write: reply bodies and free-text answers.

Values are Fernet tokens (AES-128-CBC with HMAC-SHA256) under the keys of
CLINIC_ENCRYPTION_KEYS: new writes use the first key, every key still reads, and
`clinic-worker keys rotate` re-encrypts old rows under the first. Each entry point builds
its Cipher from its Settings and hands it to the engine that needs it (worker.db.cipher);
there is no process-wide cipher, and nothing is read at import.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from worker.lib.errors import ClinicWorkerError

PREFIX = "enc:"
DEV_KEY_FILE = ".clinic-worker-dev.key"


class DecryptError(ClinicWorkerError):
    """A stored value no configured key can read (a key was removed too early)."""


class Cipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

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


def dev_key(folder: Path) -> str:
    """Development only (console backend, no key set): one key kept in the working folder, so
    the CLI, web and worker started there read each other's rows."""
    path = folder / DEV_KEY_FILE
    if not path.exists():
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()
