"""Getting planned messages out: the dispatcher's claim, sending, send-time rules, composing texts,
recording outcomes and delivery statuses, manual sends."""
