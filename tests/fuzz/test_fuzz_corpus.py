"""The seeded corpus: hand-picked inputs that once crashed or hung the pipeline (from the
hardening issue), each a small model in tests/fuzz/corpus/. Every one must end in a diagnostic
or run cleanly, never in a traceback, a hang or a dead worker; the ones whose values make no
sense (non-finite constants, a zero or negative step, a rate below zero...) must be refused.

Each runs as `python scripts/fuzz.py` runs it: `snnc check`, then build and a few steps on the
reference backend, in a worker process with a timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from snnlang.fuzz import DIAGNOSTIC, OK, Runner

CORPUS = Path(__file__).resolve().parent / "corpus"

# the values make no sense, so snnc must say so (a diagnostic), not run
REFUSED = {
    "constant_1e999", "divide_by_zero", "log_of_zero", "sqrt_of_negative", "power_2_100000",
    "power_tower_10_10_10", "dt_zero", "dt_1e999", "rate_1e999", "dt_negative", "rate_negative",
    "refractory_negative", "size_1e9", "unknown_names_3000", "import_etc_passwd",
    # found by the fuzzer since
    "divide_by_zero_in_dynamics", "simulate_1e308_ms",
}
# valid, if extreme, shapes (or a reading left to the language): running or a diagnostic both do
EITHER = {"sum_490_terms", "nested_calls_330", "nested_ifs_250", "simulate_zero", "fullwidth_digits"}
# corpus entries whose fix has not landed yet: strict, so a fix makes the test say so
PENDING: dict[str, str] = {}


@pytest.fixture(scope="module")
def runner():
    with Runner(timeout=30.0) as r:  # a loaded machine must not turn a slow input into a "hang"
        yield r


def test_the_corpus_is_the_list():
    assert {p.stem for p in CORPUS.glob("*.snn")} == REFUSED | EITHER


def _case(name: str):
    marks = [pytest.mark.xfail(strict=True, reason=PENDING[name])] if name in PENDING else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_case(n) for n in sorted(REFUSED | EITHER)])
def test_corpus_input_ends_in_a_diagnostic_or_a_clean_run(runner, name):
    outcome = runner.run((CORPUS / f"{name}.snn").read_bytes())
    allowed = {DIAGNOSTIC} if name in REFUSED else {DIAGNOSTIC, OK}
    assert outcome.status in allowed, (f"{name}: {outcome.status} in {outcome.stage} ({outcome.signature}), "
                                       f"expected {' or '.join(sorted(allowed))}\n{outcome.detail}")
