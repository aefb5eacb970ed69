"""The pipeline fuzzer (snnlang/fuzz.py) as part of the suite: a few hundred generated inputs
through check, build and a short run must end in results or diagnostics only, plus
derandomised hypothesis examples of extreme values in every numeric slot of the templates.

The CI budget is 200 inputs; `SNNLANG_FUZZ_COUNT=3000` (or the fuzz-long hypothesis profile,
tests/conftest.py, which runs 20x) runs more. `python scripts/fuzz.py --count 3000` is the
same fuzz from the command line, with reduced reproducers (docs/fuzzing.md)."""

from __future__ import annotations

import os
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnlang import check_text
from snnlang.errors import UserError
from snnlang.fuzz import (DIAGNOSTIC, EXTREME_NUMBERS, HANG, INTERNAL, OK, STRUCTURES, TEMPLATES, Generator,
                          Runner, classify, fuzz, minimize, structure, write_failures)

CI_COUNT = 200
COUNT = int(os.environ.get("SNNLANG_FUZZ_COUNT") or CI_COUNT * settings.default.max_examples // 100)


@pytest.fixture(scope="module")
def runner():
    # generous: the slowest input takes about 4 s on a loaded machine, a real hang runs forever
    with Runner(timeout=30.0) as r:
        yield r


def _explain(report) -> str:
    lines = [report.summary()]
    for name, items in report.classes.items():
        first = min(items, key=lambda f: len(f.data))
        lines += [f"--- {name}: input {first.index} ({first.family}: {first.how})", first.data.decode("utf-8", "replace")[:1500],
                  first.outcome.detail[-2500:]]
    return "\n".join(lines)


def test_generated_inputs_end_in_results_or_diagnostics(runner, tmp_path):
    report = fuzz(COUNT, seed=0, runner=runner)
    if report.failures:
        write_failures(report, tmp_path / "fuzz-out")  # the inputs and tracebacks, for a look
    assert report.failures == 0, _explain(report)
    assert report.count == COUNT
    # the mix reaches every stage: some inputs run, most are refused
    assert report.statuses.get(OK, 0) > COUNT // 20 and report.statuses.get(DIAGNOSTIC, 0) > COUNT // 2


@settings(max_examples=max(1, 40 * settings.default.max_examples // 100))
@given(template=st.sampled_from(TEMPLATES), data=st.data())
def test_extreme_values_in_any_numeric_slot(runner, template, data):
    name, text, defaults, slots = template
    slot = data.draw(st.sampled_from(sorted(slots)), label="slot")
    number = data.draw(st.one_of(
        st.sampled_from(EXTREME_NUMBERS),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.integers(-2 ** 70, 2 ** 70).map(str),
    ), label="number")
    value = f"{number} {slots[slot]}".strip()
    outcome = runner.run(text.format(**{**defaults, slot: value}).encode())
    assert outcome.status in (OK, DIAGNOSTIC), f"{name}: {slot} = {value}: {outcome.status}\n{outcome.detail}"


# ----------------------------------------------------------------------- the fuzzer itself


def test_inputs_depend_only_on_seed_and_index():
    a, b = Generator(3), Generator(3)
    assert [a(i).data for i in (0, 7, 99)] == [b(i).data for i in (99, 7, 0)][::-1]
    assert Generator(4)(7).data != a(7).data
    families = {a(i).family for i in range(200)}
    assert families == {"mutant", "extreme", "structure", "encoding"}


def test_templates_and_small_structures_are_valid_models(runner):
    # so that a failure of an extreme or structural input is about the value or the size
    for name, text, defaults, _ in TEMPLATES:
        assert runner.run(text.format(**defaults).encode()).status == OK, name
    invalid_by_design = {"unknown_names", "imports", "many_errors", "deep_indent"}
    for kind in STRUCTURES:
        result = check_text(structure(kind, 3), file=f"{kind}.snn")
        assert result.ok != (kind in invalid_by_design), (kind, [d.message for d in result.errors])


def test_outcomes_are_classified(monkeypatch, tmp_path):
    import snnlang.fuzz as fz
    path = tmp_path / "m.snn"
    path.write_text("")

    def refuse(*a, **k):
        raise UserError("no")

    def crash(*a, **k):
        raise ZeroDivisionError("boom")

    def spin(*a, **k):
        end = time.perf_counter() + 5
        while time.perf_counter() < end:
            pass

    def mute(*a, **k):
        raise UserError("")

    monkeypatch.setattr(fz, "run_pipeline", refuse)
    assert classify(path, "reference", 1, 0).status == DIAGNOSTIC
    monkeypatch.setattr(fz, "run_pipeline", mute)  # `snnc: ` and nothing else is no message
    assert classify(path, "reference", 1, 0).status == INTERNAL
    monkeypatch.setattr(fz, "run_pipeline", crash)
    out = classify(path, "reference", 1, 0)
    assert out.status == INTERNAL and out.signature.startswith("ZeroDivisionError at ") and "boom" in out.detail
    monkeypatch.setattr(fz, "run_pipeline", spin)
    out = classify(path, "reference", 1, 0.2)
    assert out.status == HANG and "spin" in out.detail  # the alarm, not the end of the 5 s loop


def test_minimize_keeps_the_failure_and_drops_the_rest():
    text = "".join(f"line {k}\n" for k in range(200)) + "the BAD one\n"
    small = minimize(text.encode(), lambda d: b"BAD" in d, budget_s=10)
    assert b"BAD" in small and len(small) < 20


def test_a_random_run_of_the_generator_never_raises():
    gen = Generator(random.Random(1).randrange(1000))
    for i in range(300):
        item = gen(i)
        assert isinstance(item.data, bytes) and item.how
