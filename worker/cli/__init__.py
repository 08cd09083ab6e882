"""The clinic-worker command line."""
