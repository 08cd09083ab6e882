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
}


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = [("figure", "measured", "target")]
    usual = results["usual"]["per_second"]
    for db, run in results["throughput"].items():
        rows.append(
            (
                f"burst of {run['messages']:,} due at once, {db}",
                f"{run['per_second']:.0f} msg/s ({run['per_second'] / usual:.0f}x usual design)",
                f">= {TARGETS['throughput']:.0f} msg/s",
            )
        )
        rows.append(
            (
                f"  lateness p50 / p99 / max, {db}",
                f"{run['lateness_p50_s']:.1f} / {run['lateness_p99_s']:.1f} / {run['lateness_max_s']:.1f} s",
                "(a burst: the last waits for the rest)",
            )
        )
        rows.append(
            (
                f"  peak RSS per process, {db}",
                f"{max(run['peak_rss_mb'].values()):.0f} MB",
                f"< {TARGETS['rss_mb']:.0f} MB",
            )
        )
        rows.append((f"  duplicates, {db}", str(run["duplicates"]), "0"))
    for db, run in results["paced"].items():
        late = f"{run['lateness_p50_s']:.1f} / {run['lateness_p99_s']:.1f} / {run['lateness_max_s']:.1f} s"
        title = f"{run['messages']:,} due at {run['due_rate']:g}/s: lateness p50 / p99 / max, {db}"
        rows.append((title, late, f"p99 < {TARGETS['lateness_p99']:.0f} s"))
    limit = results["rate_limit"]
    rows.append(
        (
            "rate 50/s, 3 workers: most in any 1 s window",
            str(limit["max_in_any_second"]),
            f"<= {TARGETS['rate']}",
        )
    )
    for db, cost in results["dispatcher"].items():
        for size in cost["sizes"]:
            rows.append(
                (
                    f"dispatcher claims {cost['claim']:,} at {size['appointments']:,} appointments, {db}",
                    f"{size['claim_ms_median']:.1f} ms median, {size['claim_ms_max']:.1f} max"
                    f"{'' if size['index_used'] else ' (no index!)'}",
                    f"< {TARGETS['claim_ms']:.0f} ms at 1,000,000 (PG)",
                )
            )
    for db, hook in results["webhook"].items():
        speed = f"{hook['requests_per_second']:.0f} req/s, p50 {hook['p50_ms']:.1f} ms"
        speed += f", p99 {hook['p99_ms']:.1f} ms"
        goal = f">= {TARGETS['webhook_rps']:.0f} req/s, p99 < {TARGETS['webhook_p99_ms']:.0f} ms"
        rows.append((f"webhook POST /twilio/sms, {hook['concurrency']} in flight, {db}", speed, goal))
        for offered in hook["offered"]:
            late = f"p50 {offered['p50_ms']:.1f} ms, p99 {offered['p99_ms']:.1f} ms"
            rows.append(
                (
                    f"  arriving at {offered['rate']:g}/s ({offered['answered_per_second']:.0f}/s answered)",
                    late,
                    "",
                )
            )
    rows.append(
        (
            f"usual design (ETA task per message, prefork x2), {results['usual']['messages']:,}",
            f"{usual:.1f} msg/s",
            "reference",
        )
    )
    rows.append(
        (
            f"no-op Celery task (prefork x2), {results['noop']['tasks']:,}",
            f"{results['noop']['per_second']:.0f} tasks/s",
            "reference",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
