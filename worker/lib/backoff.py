"""Pure retry timing."""

from __future__ import annotations

import random


def backoff_seconds(
    attempt: int, *, base: float = 5.0, cap: float = 300.0, rng: random.Random | None = None
) -> float:
    """Exponential backoff with jitter for the `attempt`-th retry (1, 2, ...): a random time
    between half and all of `base` doubled per attempt, capped at `cap`.

    The jitter spreads retries from many workers after a provider outage, so they do not
    all come back in the same second; the lower half is kept so a retry never comes at once.
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)
