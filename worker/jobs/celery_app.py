"""The Celery app, importable as `worker.jobs.celery_app:app` (so `celery -A worker.jobs.celery_app`
and Flower work). Creating it reads nothing: its configuration is a promise that Celery
resolves the first time it needs it, from the Settings the entry point attached, or from
the environment when started by the plain `celery` command."""

from __future__ import annotations

import math
from typing import Any

from celery import Celery

from worker.jobs.app_settings import attach_settings, settings_of
from worker.jobs.metrics_server import install_metrics_server
from worker.jobs.watchdog import ConsumerWatchdog
from worker.settings import Settings, urgent_queue

__all__ = ["app", "attach_settings", "celery_config", "settings_of"]

app = Celery("clinic_worker", include=["worker.jobs.tasks"])


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery and kombu settings; docs/operations.md explains each choice and its evidence."""
    interval = settings.dispatch_interval
    urgent = urgent_queue(settings)
    config: dict[str, Any] = {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": settings.queue_name,
        "task_serializer": "json",
        "accept_content": ["json"],
        # Send tasks carry ids only and return nothing worth keeping.
        "task_ignore_result": True,
        "result_backend": None,
        # Acknowledge after the task ran, and give a task back if its process is killed:
        # the conditional claim makes a second run harmless, a lost run is not.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_soft_shutdown_timeout": 10.0,
        "worker_send_task_events": False,
        "worker_hijack_root_logger": False,
        # Celery would turn stray prints (and tracebacks) into one log record per fragment.
        "worker_redirect_stdouts": False,
        "enable_utc": True,
        "timezone": "UTC",
        "beat_schedule": {
            "dispatch-due-messages": {
                "task": "worker.outbound.dispatch",
                "schedule": interval,
                # A dispatch run that waited longer than one interval is superseded by the next.
                # On the urgent queue, like every scheduled job: behind a morning's backlog of
                # sends it would expire unrun, and nothing new would be claimed until the
                # backlog drained.
                "options": {"expires": max(interval, 1.0), "queue": urgent},
            },
            "sweep-stuck-messages": {
                "task": "worker.sweep",
                # Often enough that a send cut short by a dead worker is explained within a
                # minute or so of its lease running out.
                "schedule": min(60.0, max(interval, 5.0)),
                "options": {"expires": 60.0, "queue": urgent},
            },
            "watch-safety-and-runs": {
                "task": "worker.watch_safety_and_runs",
                "schedule": min(60.0, max(interval, 5.0)),
                "options": {"expires": 60.0, "queue": urgent},
            },
            "process-stored-replies": {
                "task": "worker.process_stored_replies",
                "schedule": max(interval, 5.0),
                "options": {"expires": max(interval, 5.0), "queue": urgent},
            },
        },
        "beat_max_loop_interval": min(5.0, interval),
    }
    if settings.reconcile_interval > 0:
        config["beat_schedule"]["reconcile-with-twilio"] = {
            "task": "worker.inbound.reconcile",
            "schedule": settings.reconcile_interval,
            "options": {"expires": settings.reconcile_interval, "queue": urgent},
        }
    if settings.redis_url.startswith("redis"):
        config["broker_transport_options"] = {
            # Tasks run for seconds; an hour is long enough that a slow task is never
            # redelivered while it runs, and a task lost with its worker returns within it.
            "visibility_timeout": 3600,
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
            "health_check_interval": 25,
            "retry_on_timeout": True,
        }
        config.update(
            beat_scheduler="worker.jobs.beat:Scheduler",
            redbeat_redis_url=settings.redis_url,
            redbeat_key_prefix=f"{settings.queue_name}:redbeat:",
            # Beat's own Redis client, with timeouts so a half-open connection cannot hang it.
            redbeat_redis_options={
                "socket_timeout": 10,
                "socket_connect_timeout": 5,
                "health_check_interval": 25,
                "retry_on_timeout": True,
            },
            # A second beat takes over within a few intervals of the first one dying.
            redbeat_lock_timeout=max(30, math.ceil(5 * interval)),
        )
    return config


app.add_defaults(lambda: celery_config(settings_of(app)))


# A step of every worker's consumer; it does nothing until a worker starts consuming.
app.steps["consumer"].add(ConsumerWatchdog)
# Each worker's main process serves its metrics on CLINIC_METRICS_PORT (when set).
install_metrics_server(lambda: settings_of(app))
