"""Message rows: creating one to go out now, re-planning an appointment's rows, reading them, and the
text templates."""
