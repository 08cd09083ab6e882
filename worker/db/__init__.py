"""Database access: engines (carrying the cipher), sessions, the tables, migrations, the audit
trail and after-commit logging."""
