"""The benchmark's table shows what was measured: a step left out with --only leaves its rows
out, and the ratio to the usual design appears only when the usual design was measured."""

from __future__ import annotations

from bench.report import table

WEBHOOK = {
    "concurrency": 32,
    "requests_per_second": 1352.0,
    "p50_ms": 23.6,
    "p99_ms": 128.0,
    "server_cpu_ms_per_request": 1.03,
    "offered": [
        {"rate": 500.0, "answered_per_second": 500.0, "p50_ms": 8.3, "p99_ms": 36.9},
        {"rate": 1000.0, "answered_per_second": 998.0, "p50_ms": 14.3, "p99_ms": 152.3},
    ],
}
BURST = {
    "messages": 10_000,
    "per_second": 413.0,
    "lateness_p50_s": 13.2,
    "lateness_p99_s": 24.0,
    "lateness_max_s": 24.2,
    "peak_rss_mb": {"worker": 121.0},
    "duplicates": 0,
}


def test_a_webhook_only_run_prints_only_webhook_rows_with_the_target_beside_500_per_second() -> None:
    lines = table({"webhook": {"postgresql": WEBHOOK}}).splitlines()
    assert len(lines) == 2 + 3  # header, rule, the closed loop and two offered rates
    [at_500] = [line for line in lines if "arriving at 500/s" in line]
    [at_1000] = [line for line in lines if "arriving at 1000/s" in line]
    assert "p99 36.9 ms" in at_500 and at_500.endswith("p99 < 50 ms at >= 500 req/s")
    assert at_1000.endswith("p99 152.3 ms")


def test_the_burst_is_compared_with_the_usual_design_only_when_it_was_measured() -> None:
    alone = table({"throughput": {"sqlite": BURST}})
    beside = table({"throughput": {"sqlite": BURST}, "usual": {"messages": 1000, "per_second": 9.8}})
    assert "413 msg/s" in alone and "usual" not in alone
    assert "413 msg/s (42x usual design)" in beside
    assert "usual design (ETA task per message, prefork x2), 1,000" in beside
