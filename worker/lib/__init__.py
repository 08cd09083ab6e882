"""Generic helpers that know nothing of clinics: backoff, phones, encryption, logging, durations,
wall-clock windows, group commit, rate limiting, errors."""
