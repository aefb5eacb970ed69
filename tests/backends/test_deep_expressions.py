"""Expressions at the checker's nesting limit: every backend builds them or refuses them with
E105 at their line (never a RecursionError or Python's "too many nested parentheses"), and no
printer does work exponential in the depth."""

from __future__ import annotations

import pytest

import snnlang
from snnlang.runtime.model import CompileError

TARGETS = ["reference", "numba", "torch"]


def nested_tanh(levels: int) -> str:
    inner = "v"
    for _ in range(levels):
        inner = f"tanh({inner})"
    # a nonlinear ODE: the solver substitutes the right-hand side into itself (deeper still)
    return f"""neuron N:
    param I = 1
    state v = 0.1
    dv/dt = (I - {inner}) / (10 ms)
    spike when v > 0.5:
        v = 0

network net:
    layer a = N(3)
    simulate 5 ms at dt = 1 ms
"""


def nested_reciprocal(levels: int) -> str:
    inner = "v"
    for _ in range(levels):
        inner = f"1/(1+{inner})"
    return f"""neuron N:
    state v = 0.1
    v <- {inner}
    spike when v > 2:
        v = 0

network net:
    layer a = N(3)
    simulate 5 ms at dt = 1 ms
"""


@pytest.mark.parametrize("target", TARGETS)
def test_an_allowed_but_too_deep_expression_is_e105_at_its_line(tmp_path, target):
    path = tmp_path / "deep.snn"
    path.write_text(nested_tanh(95))           # the checker allows 100 levels
    with pytest.raises(CompileError) as info:
        snnlang.compile(path, target=target)
    assert [d.code for d in info.value.diagnostics] == ["E105"]
    assert info.value.diagnostics[0].span.line == 4
    assert "intermediate variables" in str(info.value)


@pytest.mark.parametrize("target", TARGETS)
def test_a_moderately_deep_expression_builds_and_runs(tmp_path, target):
    path = tmp_path / "ok.snn"
    path.write_text(nested_tanh(20))
    model = snnlang.compile(path, target=target)
    assert model.run(3)["a.spike"].shape[0] == 3


@pytest.mark.timeout(120)     # the torch printer printed a power's base twice: 2^49 prints here
@pytest.mark.parametrize("target", TARGETS)
def test_nested_powers_print_in_linear_time(tmp_path, target):
    path = tmp_path / "reciprocal.snn"
    path.write_text(nested_reciprocal(49))
    model = snnlang.compile(path, target=target)
    assert model.run(3)["a.spike"].sum() == 0
