"""Pure retry timing."""

from __future__ import annotations

import random


def backoff_seconds(
    attempt: int, *, base: float = 5.0, cap: float = 300.0, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter for the `attempt`-th retry (1, 2, ...).

    Full jitter spreads retries from many workers after a provider outage, so they do
    not all come back in the same second.
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)
