"""One error tree. The CLI turns any ClinicWorkerError into a one-line message and exit 1."""

from __future__ import annotations


class ClinicWorkerError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ClinicWorkerError):
    """Settings are invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class InputError(ClinicWorkerError):
    """An operator or a file gave a value we cannot use."""


class NotFound(ClinicWorkerError):
    """A row named by id does not exist."""


class Busy(ClinicWorkerError):
    """Too much work is already waiting (a group-commit writer's queue is full): shed this."""


class SmsError(ClinicWorkerError):
    """Sending failed. The SMS boundary is the only place that builds one.

    permanent: retrying cannot help (invalid number, unsubscribed, bad credentials).
    ambiguous: the request may have reached the provider (a read timeout); resending
        could text the patient twice, so it is recorded and never retried blindly.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: int | None = None,
        ambiguous: bool = False,
        opted_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.ambiguous = ambiguous
        self.opted_out = opted_out
