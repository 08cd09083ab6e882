"""The Settings a Celery app runs with: attached by the entry point, or read from the
environment the first time they are needed (the plain `celery` command). Apart from the app
module so that the app's own steps (watchdog, beat's scheduler) can read them without an
import circle."""

from __future__ import annotations

from celery import Celery

from worker.settings import Settings, load_settings


def attach_settings(celery: Celery, settings: Settings) -> None:
    celery.clinic_settings = settings


def settings_of(celery: Celery) -> Settings:
    settings: Settings | None = getattr(celery, "clinic_settings", None)
    if settings is None:
        settings = load_settings()
        celery.clinic_settings = settings
    return settings
