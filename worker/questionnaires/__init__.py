"""SMS questionnaires: definitions, answer parsing, the conversation, scoring, export."""
