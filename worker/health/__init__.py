"""Health: the checks `clinic-worker doctor` prints (checks.py) and the probes the web
server answers for orchestrators and dashboards (probes.py)."""
