"""Database access: engine, sessions, migrations and the tables."""

from worker.db.engine import make_engine, session_factory, transaction
from worker.db.models import (
    Appointment,
    AppointmentStatus,
    AuditEntry,
    Message,
    MessageStatus,
    Patient,
    utcnow,
)

__all__ = [
    "Appointment",
    "AppointmentStatus",
    "AuditEntry",
    "Message",
    "MessageStatus",
    "Patient",
    "make_engine",
    "session_factory",
    "transaction",
    "utcnow",
]
