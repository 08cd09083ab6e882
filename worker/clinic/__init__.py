"""Patients and appointments: the service functions every face calls, and the CSV import."""
