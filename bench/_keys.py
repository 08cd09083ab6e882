"""One set of encryption and blind-index keys per benchmark run, shared by every process in it.

The seeding code encrypts names and phone numbers and computes each patient's phone_index;
the worker, beat and web processes it starts decrypt those values and look patients up by
phone_index. Both sides must hold the same keys, so they come from here: made once, the
first time a run asks, and handed to child processes through their environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cryptography.fernet import Fernet

from worker.lib.crypto import Cipher


@dataclass(frozen=True)
class RunKeys:
    encryption: str  # CLINIC_ENCRYPTION_KEYS
    index: str  # CLINIC_BLIND_INDEX_KEYS (Fernet format, as `clinic-worker keys generate` makes)

    def cipher(self) -> Cipher:
        return Cipher([self.encryption], [self.index])

    def env(self) -> dict[str, str]:
        """The settings a worker, beat or web process needs to read and find what was seeded."""
        return {"CLINIC_ENCRYPTION_KEYS": self.encryption, "CLINIC_BLIND_INDEX_KEYS": self.index}


@cache
def run_keys() -> RunKeys:
    """This run's keys (one `python -m bench` process is one run)."""
    return RunKeys(Fernet.generate_key().decode(), Fernet.generate_key().decode())


@cache
def run_cipher() -> Cipher:
    """A Cipher of this run's keys, built once (its keys are parsed per Cipher, not per value)."""
    return run_keys().cipher()
