"""Safety alerts: raised before anything else happens, repeated to on-call until a person acknowledges."""
