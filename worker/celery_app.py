"""`worker.celery_app:app`, the path `celery -A worker.celery_app` and Flower use: the app
itself lives in worker.jobs.celery_app."""

from worker.jobs.celery_app import app

__all__ = ["app"]
