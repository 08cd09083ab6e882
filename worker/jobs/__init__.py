"""Celery: the app, the thin tasks, enqueueing by id, the RedBeat scheduler and the consumer watchdog."""
