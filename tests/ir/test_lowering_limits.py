"""Lowering on hostile but allowed input: deep nesting within the limits, huge powers."""

from __future__ import annotations

import pytest
import sympy

from snnlang.ir.expressions import ConstantError, ExprLowering, StreamCounter
from snnlang.ir.lower import LoweringError, lower
from snnlang.semantics.checker import check_text
from snnlang.syntax.parser import MAX_BLOCK_DEPTH, MAX_EXPR_DEPTH, parse


def lower_expr(text: str) -> sympy.Expr:
    module, diags = parse(f"neuron N:\n    state x = {text}\n")
    assert not diags
    expr = module.definitions[0].members[0].value
    return ExprLowering(lambda n: sympy.Symbol(n.dotted), StreamCounter())(expr)


def checked(text: str):
    result = check_text(text, "deep.snn")
    assert result.ok, [d.message for d in result.errors]
    return result


NET = "\nnetwork n:\n    layer a = N(2)\n    connect a -> a with S(dense)\n    simulate 10 ms at dt = 1 ms\n"


def _synapse(ifs: int, terms: int) -> str:
    nested = "".join("    " * (k + 2) + "if pre.v > 0:\n" for k in range(ifs))
    return ("synapse S:\n    param w = 1\n    on pre:\n" + nested
            + "    " * (ifs + 2) + "post.I += " + " + ".join(["w"] * terms) + "\n")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("rhs", [
    "(" + " + ".join(["v"] * (MAX_EXPR_DEPTH - 2)) + ") / 10 ms",
    "exp(" * (MAX_EXPR_DEPTH - 1) + "v" + ")" * (MAX_EXPR_DEPTH - 1) + " / 10 ms",
    "-" * (MAX_EXPR_DEPTH - 2) + "v / 10 ms",
], ids=["sum", "calls", "negations"])
def test_lowering_handles_the_deepest_allowed_nesting(rhs: str):
    # what the parser allows (E105 beyond) must get through the checker, sympy and the
    # solvers without RecursionError, also inside the deepest allowed blocks
    neuron = f"neuron N:\n    state v = 0\n    input I\n    dv/dt = {rhs}\n    spike when v > 1\n"
    ir = lower(checked(neuron + _synapse(MAX_BLOCK_DEPTH - 1, MAX_EXPR_DEPTH - 2) + NET))
    assert ir.neurons["N"].program and ir.synapses["S"].handlers


def test_the_longest_allowed_elif_chain_lowers():
    branches = "".join(f"        elif v > {k}:\n            v = {k}\n" for k in range(1, MAX_BLOCK_DEPTH - 2))
    text = ("neuron N:\n    state v = 0\n    v <- v + 1\n    spike when v > 1:\n        if v > 0:\n"
            "            v = 0\n" + branches + "        else:\n            v = 1\n"
            + NET.replace("    connect a -> a with S(dense)\n", ""))
    ir = lower(checked(text))
    assert len(ir.neurons["N"].events[0].body) == MAX_BLOCK_DEPTH - 1


def test_a_long_chain_of_parameters_lowers():
    params = "".join(f"    param p{k} = p{k + 1} + 1\n" for k in range(500))
    ir = lower(checked(f"neuron N:\n{params}    param p500 = 1\n    state v = 0\n    v <- v + p0\n"
                       "    spike when v > 1\n" + NET.replace("    connect a -> a with S(dense)\n", "")))
    assert len([v for v in ir.neurons["N"].vars if v.kind == "param"]) == 501


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", ["10 ^ 10 ^ 10", "2 ^ 100000", "(2 ^ 1000) ^ 1000", "1e300 ^ 2"])
def test_huge_constant_powers_stop_at_once(text: str):
    # sympy would build the exact integer (10 ^ 10 ^ 10: forever)
    with pytest.raises(ConstantError, match="not a finite number"):
        lower_expr(text)


@pytest.mark.timeout(60)
def test_huge_integer_exponents_of_names_stay_in_floating_point():
    e = lower_expr("a ^ a ^ 10000000000")
    assert e.subs(sympy.Symbol("a"), 1) == 1
    assert not any(isinstance(x, sympy.Integer) and abs(int(x)) > 1024 for x in sympy.preorder_traversal(e))


def test_ordinary_powers_are_unchanged():
    assert lower_expr("2 ^ 10") == sympy.Integer(1024)
    assert lower_expr("2 ^ -1") == sympy.Rational(1, 2)
    assert lower_expr("2 ^ 1000") == sympy.Integer(2) ** 1000
    assert lower_expr("v ^ 2") == sympy.Symbol("v") ** 2
    assert float(lower_expr("2.5 ^ 0.5")) == pytest.approx(2.5 ** 0.5)


@pytest.mark.timeout(60)
def test_a_huge_power_of_parameters_lowers_quickly():
    # the checker cannot know a parameter's value (populations override it), so lowering
    # must not evaluate `a ^ a ^ a` exactly either
    text = ("neuron N:\n    param a = 10\n    param tau = a ^ a ^ a\n    state v = 0\n    v <- v / tau\n"
            "    spike when v > 1\n" + NET.replace("    connect a -> a with S(dense)\n", ""))
    lower(checked(text))


def test_an_expression_that_folds_to_no_value_is_e107_in_lowering():
    # the checker cannot see that `v - v` is 0; sympy folds `(v - v) ^ -1` to zoo
    result = checked("neuron N:\n    state v = 0\n    v <- v + (v - v) ^ -1\n    spike when v > 1\n")
    with pytest.raises(LoweringError) as info:
        lower(result)
    assert [(d.code, d.span.line) for d in info.value.diagnostics] == [("E107", 3)]


def test_constant_errors_reaching_lowering_are_diagnostics():
    # the checker reports E107 for literals first; a ConstantError that still reaches
    # lowering becomes a LoweringError with E107 rather than a traceback
    result = checked("neuron N:\n    state v = 0\n    v <- v\n    spike when v > 1\n"
                     + NET.replace("    connect a -> a with S(dense)\n", ""))
    node = result.neurons["N"].node
    bad = parse("neuron N:\n    state x = 10 ^ 10 ^ 10\n")[0].definitions[0].members[0]
    object.__setattr__(node, "members", node.members + (bad,))
    with pytest.raises(LoweringError) as info:
        lower(result)
    assert [d.code for d in info.value.diagnostics] == ["E107"]


@pytest.mark.timeout(60)
def test_nested_tanh_lowers_quickly():
    # sympy's tanh answered assumption queries by expanding nested tanhs into real and
    # imaginary parts; RK4 rebuilds the right-hand side, so 4 levels took 30 s, 6 minutes
    rhs = "tanh(" * 40 + "v" + ")" * 40
    ir = lower(checked(f"neuron N:\n    state v = 0\n    dv/dt = ({rhs} - v) / 10\n    spike when v > 1\n"))
    assert ir.neurons["N"].program


def test_tanh_still_evaluates_numbers_and_differentiates():
    assert float(lower_expr("tanh(0.5)")) == pytest.approx(0.46211715726)
    e = lower_expr("tanh(v)")
    v = sympy.Symbol("v")
    assert type(e).__name__ == "tanh" and isinstance(e, sympy.tanh)
    assert sympy.simplify(e.diff(v) - (1 - e ** 2)) == 0
