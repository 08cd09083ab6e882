"""The benchmark's one table: each figure beside its target and the reference ratios."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "throughput": 300.0,  # messages per second at 150 ms provider latency
    "lateness_p99": 5.0,  # seconds, for messages falling due at 300 per second
    "rate": 50,  # the most accepted in any one second, with CLINIC_SEND_RATE=50
    "claim_ms": 100.0,  # one dispatcher run claiming 1,000 rows, at 1,000,000 appointments (PostgreSQL)
    "webhook_rps": 500.0,
    "webhook_p99_ms": 50.0,
    "rss_mb": 200.0,
    "alert_p99_s": 5.0,  # crisis text posted -> the patient's and on-call's texts accepted
}


Row = tuple[str, str, str]


def table(results: dict[str, Any]) -> str:
    """Every figure measured; a step left out (`--only`) leaves its rows out."""
    usual = results["usual"]["per_second"] if "usual" in results else None
    rows: list[Row] = [("figure", "measured", "target")]
    rows += _bursts(results.get("throughput", {}), usual)
    rows += _paced(results.get("paced", {}))
    if "rate_limit" in results:
        most = str(results["rate_limit"]["max_in_any_second"])
        rows.append(("rate 50/s, 3 workers: most in any 1 s window", most, f"<= {TARGETS['rate']}"))
    rows += _crisis(results.get("crisis"))
    rows += _dispatcher(results.get("dispatcher", {}))
    rows += _webhook(results.get("webhook", {}))
    rows += _references(results)
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _bursts(throughput: dict[str, Any], usual: float | None) -> list[Row]:
    rows = []
    for db, run in throughput.items():
        ratio = f" ({run['per_second'] / usual:.0f}x usual design)" if usual else ""
        late = f"{run['lateness_p50_s']:.1f} / {run['lateness_p99_s']:.1f} / {run['lateness_max_s']:.1f} s"
        rows += [
            (
                f"burst of {run['messages']:,} due at once, {db}",
                f"{run['per_second']:.0f} msg/s{ratio}",
                f">= {TARGETS['throughput']:.0f} msg/s",
            ),
            (f"  lateness p50 / p99 / max, {db}", late, "(a burst: the last waits for the rest)"),
            (
                f"  peak RSS per process, {db}",
                f"{max(run['peak_rss_mb'].values()):.0f} MB",
                f"< {TARGETS['rss_mb']:.0f} MB",
            ),
            (f"  duplicates, {db}", str(run["duplicates"]), "0"),
        ]
    return rows


def _paced(paced: dict[str, Any]) -> list[Row]:
    rows = []
    for db, run in paced.items():
        late = f"{run['lateness_p50_s']:.1f} / {run['lateness_p99_s']:.1f} / {run['lateness_max_s']:.1f} s"
        title = f"{run['messages']:,} due at {run['due_rate']:g}/s: lateness p50 / p99 / max, {db}"
        rows.append((title, late, f"p99 < {TARGETS['lateness_p99']:.0f} s"))
    return rows


def _crisis(run: dict[str, Any] | None) -> list[Row]:
    if run is None:
        return []
    title = f"{run['crisis_texts']} crisis texts during a burst of {run['burst']:,}"
    rows = []
    for who in ("patient", "oncall"):
        spread = run[who]
        late = f"{spread['p50_s']:.1f} / {spread['p99_s']:.1f} / {spread['max_s']:.1f} s"
        name = "patient's 988 text" if who == "patient" else "on-call's page"
        rows.append(
            (
                f"{title}: POST -> {name} accepted, p50 / p99 / max",
                late,
                f"p99 < {TARGETS['alert_p99_s']:.0f} s",
            )
        )
    return rows


def _dispatcher(dispatcher: dict[str, Any]) -> list[Row]:
    rows = []
    for db, cost in dispatcher.items():
        for size in cost["sizes"]:
            rows.append(
                (
                    f"dispatcher claims {cost['claim']:,} at {size['appointments']:,} appointments, {db}",
                    f"{size['claim_ms_median']:.1f} ms median, {size['claim_ms_max']:.1f} max"
                    f"{'' if size['index_used'] else ' (no index!)'}",
                    f"< {TARGETS['claim_ms']:.0f} ms at 1,000,000 (PG)",
                )
            )
    return rows


def _webhook(webhook: dict[str, Any]) -> list[Row]:
    rows = []
    goal = f"p99 < {TARGETS['webhook_p99_ms']:.0f} ms at >= {TARGETS['webhook_rps']:.0f} req/s"
    for db, hook in webhook.items():
        speed = f"{hook['requests_per_second']:.0f} req/s, p50 {hook['p50_ms']:.1f} ms"
        speed += f", p99 {hook['p99_ms']:.1f} ms"
        cpu = hook["server_cpu_ms_per_request"]
        rows.append(
            (
                f"webhook POST /twilio/sms, {hook['concurrency']} in flight, {db}",
                speed,
                f"(server CPU {cpu} ms/request)",
            )
        )
        for offered in hook["offered"]:
            late = f"p50 {offered['p50_ms']:.1f} ms, p99 {offered['p99_ms']:.1f} ms"
            title = f"  arriving at {offered['rate']:g}/s ({offered['answered_per_second']:.0f}/s answered)"
            rows.append((title, late, goal if offered["rate"] == TARGETS["webhook_rps"] else ""))
    return rows


def _references(results: dict[str, Any]) -> list[Row]:
    rows = []
    if "usual" in results:
        usual = results["usual"]
        title = f"usual design (ETA task per message, prefork x2), {usual['messages']:,}"
        rows.append((title, f"{usual['per_second']:.1f} msg/s", "reference"))
    if "noop" in results:
        noop = results["noop"]
        title = f"no-op Celery task (prefork x2), {noop['tasks']:,}"
        rows.append((title, f"{noop['per_second']:.0f} tasks/s", "reference"))
    return rows
