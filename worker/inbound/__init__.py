"""What patients send: storing texts, crisis screening, replies (keywords, confirm and reschedule,
questionnaire answers) and reconciliation with Twilio's own record."""
