"""What to send and when. Pure: reminder offsets, quiet hours and follow-up plans; no database."""
