"""docs/monitoring/ keeps up with the code: the alert rules are a well-formed Prometheus
rule file that Prometheus's own promtool accepts and whose unit tests (alerts.test.yml)
pass, and the rules, the dashboard and the README name only metrics the code defines
(worker/metrics/catalogue.py), and the README describes every one of them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.metrics.catalogue import RECORDED, SCRAPED, exposed_names

MONITORING = Path(__file__).resolve().parents[2] / "docs" / "monitoring"
METRIC = re.compile(r"\bclinic_[a-z0-9_]+")
DURATION = re.compile(r"^\d+[smhd]$")
ALERT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]+$")
SEVERITIES = {"page", "ticket"}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "alerts.yml").read_text(encoding="utf-8"))
    assert set(document) == {"groups"} and document["groups"], "a rule file holds `groups:` only"
    rules = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"], group.get("name")
        rules += group["rules"]
    return rules


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 30
    exprs = []
    for panel in dashboard["panels"]:
        assert panel["title"], panel
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        exprs += [target["expr"] for target in panel["targets"]]
    return exprs


def test_given_the_alert_rules_when_read_expect_each_a_complete_prometheus_alerting_rule() -> None:
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule.get("alert")
        assert ALERT_NAME.match(rule["alert"]), rule["alert"]
        assert isinstance(rule["expr"], str) and METRIC.search(rule["expr"]), rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert DURATION.match(str(rule["for"])), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_given_the_alert_rules_when_read_expect_the_on_call_engineer_covered() -> None:
    used = {name for rule in _rules() for name in METRIC.findall(rule["expr"])}
    wanted = {
        "clinic_oldest_due_age_seconds",  # reminders not going out
        "clinic_due_backlog_messages",
        "clinic_messages_total",  # no sends while there is a backlog
        "clinic_send_lateness_seconds_bucket",
        "clinic_oldest_open_alert_age_seconds",
        "clinic_webhook_requests_total",
        "clinic_beat_last_run_age_seconds",
        "clinic_ambiguous_sends_total",
        "clinic_provider_errors_total",
    }
    assert wanted <= used, wanted - used


def test_given_the_rules_and_the_dashboard_when_read_expect_only_metrics_the_code_defines() -> None:
    used = {name for rule in _rules() for name in METRIC.findall(rule["expr"])}
    used |= {name for expr in _dashboard_exprs() for name in METRIC.findall(expr)}
    assert used, "no clinic_ metric found: the check would prove nothing"
    assert used - exposed_names() == set()


def test_given_the_readme_when_read_expect_every_metric_described_and_no_other() -> None:
    readme = (MONITORING / "README.md").read_text(encoding="utf-8")
    for spec in (*RECORDED, *SCRAPED):
        assert f"`{spec.name}`" in readme, spec.name
    # The metric tables: their first cells name metrics (and only metrics).
    cells = re.findall(r"^\| (`clinic_[^|]*)\|", readme, flags=re.MULTILINE)
    named = {name for cell in cells for name in METRIC.findall(cell)}
    assert named == {spec.name for spec in (*RECORDED, *SCRAPED)}
    for rule in _rules():
        assert f"`{rule['alert']}`" in readme, rule["alert"]


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is not installed: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def test_given_promtool_when_the_rules_are_checked_and_their_unit_tests_run_expect_both_to_pass() -> None:
    promtool = _promtool()
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        result = subprocess.run(
            [promtool, *args], cwd=MONITORING, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
