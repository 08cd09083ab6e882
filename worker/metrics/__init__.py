"""Prometheus metrics: their names (catalogue), recording them (record), the multiprocess
folder (folder) and reading them back for a scrape (scrape). Nothing is made or read at
import time; see docs/monitoring/README.md for what each metric means."""
