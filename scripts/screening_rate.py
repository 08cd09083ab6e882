"""How many texts a second one process screens for crisis language, on this machine.

    python scripts/screening_rate.py [COUNT]

Screens COUNT texts (default 3,000: half must-alert, half look-alike idioms) with the
shipped rules and model, three times, and prints the best rate and the time per text.
A benchmark, not a test: the figure depends on the machine and its load.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from worker.language.screening import load_screener

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 3_000
    screener = load_screener(ROOT / "config" / "crisis_rules.yaml")
    half = count // 2
    texts = [f"text {n}: i really want to honestly die, kms" for n in range(half)]
    texts += [f"running {n} min late, the traffic is killing me" for n in range(count - half)]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            screener.screen(text)
        best = min(best, time.perf_counter() - started)
    print(f"{count} texts in {best:.2f} s: {count / best:,.0f} texts/s, {best / count * 1000:.2f} ms a text")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
