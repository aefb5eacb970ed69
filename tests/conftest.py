"""Hypothesis profiles for the whole suite: the suite's outcome must not depend on how fast or
how loaded the machine is, nor on the run.

- "ci" (the default): no deadline and no health check (on a loaded 2-core machine `too_slow`
  and `data_too_large` fire on perfectly good tests), derandomised (every run tries the same
  examples, so a failure reproduces), and the failing example's blob printed.
- "fuzz-long": for hunting bugs rather than guarding against regressions: 20x the examples,
  drawn afresh each run (the printed blob reproduces a failure). Select it with
  `pytest --hypothesis-profile=fuzz-long` or `SNNLANG_HYPOTHESIS_PROFILE=fuzz-long`.

Tests that set `max_examples` themselves scale it with `max(N, settings.default.max_examples)`
so that fuzz-long raises them too. Deadlines and health checks are never set per test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_ENV = "SNNLANG_HYPOTHESIS_PROFILE"

settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
    print_blob=True,
)
settings.register_profile(
    "fuzz-long",
    parent=settings.get_profile("ci"),
    max_examples=20 * settings.get_profile("ci").max_examples,
    derandomize=False,
)
# `--hypothesis-profile` (hypothesis's own pytest option) is applied after this and wins
settings.load_profile(os.environ.get(PROFILE_ENV) or "ci")


def _no_local_constants() -> None:
    """Hypothesis (since 6.131) also draws literals found in the source of every local module
    loaded so far, so a derandomised test's examples depended on which other tests had
    imported what (a test passed alone and failed after tests/data). Keep that pool empty;
    the built-in pool of interesting values stays. A private hook: if it moves, nothing breaks,
    the examples only vary again."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:
        return
    constants = getattr(providers, "Constants", None)
    if constants is None or not hasattr(providers, "_get_local_constants"):
        return
    empty = constants()
    providers._get_local_constants = lambda: empty


_no_local_constants()
