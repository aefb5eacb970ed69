"""AST expressions become IR (sympy) expressions with SI values and numbered RNG streams."""

import sympy

from snnlang.ir import functions as F
from snnlang.ir.expressions import ExprLowering, StreamCounter
from snnlang.syntax import ast as A
from snnlang.syntax.parser import parse


def lower(expr_text: str, streams: StreamCounter | None = None):
    module, diags = parse(f"neuron N:\n    state x = {expr_text}\n")
    assert not diags
    expr = module.definitions[0].members[0].value
    streams = streams or StreamCounter()
    return ExprLowering(lambda n: sympy.Symbol(n.dotted), streams)(expr), streams


def test_quantities_become_si_floats():
    e, _ = lower("-65 mV")
    assert abs(float(e) + 0.065) < 1e-15
    e, _ = lower("20 ms")
    assert abs(float(e) - 0.02) < 1e-15


def test_booleans_are_numbers_so_spikes_multiply():
    e, _ = lower("0.75 * v * (1 - spike)")
    v, s = sympy.symbols("v spike")
    assert sympy.simplify(e - sympy.Rational(3, 4) * v * (1 - s)) == 0
    e, _ = lower("a and not b")
    assert e == F.And(sympy.Symbol("a"), F.Not(sympy.Symbol("b")))


def test_comparisons_do_not_evaluate_to_sympy_relationals():
    e, _ = lower("abs(v - th) < w")
    assert e.func is F.Lt


def test_each_stochastic_call_site_gets_its_own_stream():
    e, streams = lower("bernoulli(p) + bernoulli(p) + uniform(0, 2)")
    calls = sorted(e.atoms(F.Bernoulli), key=lambda c: int(c.args[1]))
    assert [int(c.args[1]) for c in calls] == [0, 1]
    (u,) = e.atoms(F.Uniform)
    assert int(u.args[0]) == 2 and streams.next == 3


def test_conditional_and_power():
    e, _ = lower("x^2 if x > 0 else -x")
    x = sympy.Symbol("x")
    assert e == F.Where(F.Gt(x, 0), x**2, -x)
