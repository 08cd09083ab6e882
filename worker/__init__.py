"""clinic-worker: appointment reminders and check-ins by SMS."""
