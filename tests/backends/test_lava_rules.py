"""Plasticity -> Loihi rule strings, and the float-to-fixed conversion (backends/lava/rules.py, fixed.py).

Translation and conversion are sympy / arithmetic only; the tests that hand the strings to Lava's
own parser skip (with the reason) when lava-nc is not installed.
"""

from __future__ import annotations

import math
import textwrap

import pytest

from snnlang.diagnostics import Severity
from snnlang.ir.lower import lower
from snnlang.semantics.checker import check_text
from snnlang_backends import lava
from snnlang_backends.lava.fixed import nearest, representable

LAVA = lava.lava_available()
needs_lava = pytest.mark.skipif(not LAVA, reason="lava-nc is not installed (scripts/install.sh installs it)")

NEURON = """
neuron LIF:
    param du = 0.25
    param dv = 0.125
    param vth = 1
    input I
    state u = 0
    state v = 0
    u <- (1 - du) * u + I
    v <- (1 - dv) * v + u
    spike when v > vth:
        v = 0
"""


def model(synapse: str, extra: str = "delay 1", init: str = "uniform(0, 0.498046875)") -> str:
    return NEURON + textwrap.dedent(synapse) + textwrap.dedent(f"""
    network net:
        input x = poisson(20, rate = 0.2)
        layer out = LIF(4)
        connect S: x -> out with Syn(dense):
            init w = {init}
            {extra}
    """)


def plan_of(text: str, **options):
    checked = check_text(text, "inline.snn")
    assert checked.ok, [d.message for d in checked.errors]
    return lava.plan(lower(checked), "net", lava.Options(extra=options) if options else None)


PAIR = """
synapse Syn:
    param a_plus = 0.0625
    param a_minus = 0.0625
    state w = 0.25
    trace x_pre: decay 0.9 on pre += 1
    trace x_post: decay 0.9 on post += 1
    on pre:
        post.I += w
        w -= a_minus * x_post
    on post:
        w += a_plus * x_pre
"""


def test_representable_is_exact_and_odd():
    assert representable(0.25) == (1, -2)
    assert representable(24.0) == (3, 3)          # Lava: `24*x0*y1` -> m=6, e=2 -> same value
    assert representable(9.0) is None              # 9 needs a 4-bit mantissa > 7
    assert representable(1 / 3) is None
    assert representable(2.0 ** -8) is None        # below Lava's smallest exponent, -7
    assert representable(2.0 ** -8, shift=3) == (1, -8)  # written 2^-5: Lava shifts 3 bits back
    assert representable(2.0 ** 6, shift=3) == (2, 5)     # written 2*2^8, the largest exponent
    assert representable(2.0 ** 9, shift=3) is None       # would need 2^12
    m, e, v = nearest(1 / 3)
    assert v == m * 2.0 ** e and abs(v - 1 / 3) < 0.03


def test_pair_stdp_maps_to_a_loihi2f_rule():
    plan = plan_of(model(PAIR))
    choice = plan.natives["S"]
    assert choice.kind == "learning_dense" and plan.natives["out"].kind == "lif"
    rule = choice.rule
    assert [(t.name, t.lava) for t in rule.traces] == [("x_pre", "x1"), ("x_post", "y1")]
    assert rule.traces[0].tau_steps == pytest.approx(-1 / math.log(0.9))
    # equal impulses and amplitudes: the coincidence terms cancel (no x0*y0 product)
    assert sorted((t.dependency, t.factors, t.coefficient) for t in rule.terms) == [
        ("x0", ("y1",), -0.0625), ("y0", ("x1",), 0.0625)]
    assert choice.conversions["floating_pt"].strings() == {"dw": "-1*2^-4*x0*y1 + 1*2^-4*y0*x1"}
    fixed = choice.conversions["fixed_pt"]
    # weights: twice the largest initial weight fills 8 bits -> one step = 2^-8; impulses 16
    assert fixed.weight_scale == 2.0 ** -8 and fixed.impulses == {"x1": 16.0, "y1": 16.0}
    assert fixed.strings() == {"dw": "-1*x0*y1 + 1*y0*x1"}


def test_coincident_spikes_get_an_exact_correction():
    """.snn reads a trace before this step's jump, Loihi after it: x_post = y1 - 1 * y0, so
    a_minus * x_post * x0 carries a +a_minus * x0 * y0 term (and a_plus one with -a_plus)."""
    text = model(PAIR.replace("param a_plus = 0.0625", "param a_plus = 0.125"))
    rule = plan_of(text).natives["S"].rule
    terms = {(t.dependency, t.factors): t.coefficient for t in rule.terms}
    assert terms[("x0", ("y0",))] == pytest.approx(0.0625 - 0.125)
    assert terms[("x0", ("y1",))] == -0.0625 and terms[("y0", ("x1",))] == 0.125
    # Lava's floating-point engine cannot read y0 as a factor: a spare trace (y2) holds it
    for conv in plan_of(text).natives["S"].conversions.values():
        assert conv.impulses["y2"] == 1.0 and "x0*y2" in conv.strings()["dw"]
    report = lava.explain(lower(check_text(text, "inline.snn")), "net")
    assert "y2 holds the spike flag y0" in report


@needs_lava
def test_strings_parse_in_lava_to_the_same_products():
    from snnlang import _lava_shim
    _lava_shim.apply()
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule

    text = model(PAIR.replace("param a_plus = 0.0625", "param a_plus = 0.125"))
    for tag, conv in plan_of(text).natives["S"].conversions.items():
        rule = Loihi2FLearningRule(**conv.rule_kwargs(1))
        parsed = sorted((p.dependency, tuple(f.state_var for f in p.factors), p.s_mantissa, p.s_exp)
                        for p in rule.dw.products)
        ours = sorted((p.term.dependency.replace("u0", "u"), p.term.factors, p.mantissa,
                       p.exponent + p.shift + 7) for p in conv.products)
        assert parsed == ours, tag


def test_products_wider_than_the_accumulator_are_rescaled():
    """y0 * x1 * y1: widths 7 + 7 + 4 = 18 > 15, Lava shifts the product right by 3 bits in
    fixed point: the string's exponent is raised by 3 (and explain says so)."""
    text = model("""
    synapse Syn:
        param a = 0.0625
        state w = 0.25
        trace x_pre: decay 0.9 on pre += 1
        trace x_post: decay 0.9 on post += 1
        on pre:
            post.I += w
        on post:
            w += a * x_pre * x_post
    """)
    choice = plan_of(text).natives["S"]
    fixed = choice.conversions["fixed_pt"]
    wide = [p for p in fixed.products if set(p.term.factors) == {"x1", "y1"}]
    assert wide and wide[0].shift == 3
    assert any("shifts the product right by 3" in n for n in fixed.notes)
    assert all(p.shift == 0 for p in choice.conversions["floating_pt"].products)


def _note(plan, code):
    found = [d for d in plan.diagnostics if d.code == code]
    assert found, [d.code for d in plan.diagnostics]
    return found[0]


def test_non_local_factor_is_a_diagnostic_at_its_line():
    text = model(PAIR.replace("w += a_plus * x_pre", "w += a_plus * pre.spike * post.v"))
    plan = plan_of(text)
    assert "S" not in plan.natives
    d = _note(plan, "L712")
    assert "post.v" in d.message and d.severity is Severity.NOTE
    assert text.split("\n")[d.span.line - 1].strip().startswith("w += a_plus")
    assert "three-factor" in d.hints[0] or "trace of this synapse" in d.hints[0]


def test_unrepresentable_coefficient_is_reported_with_the_nearest():
    """Both handlers read x_post: the products x0*y0 (a_minus) and y0 (-a_plus) carry no trace,
    so their ratio 0.0625 / 0.07 = 25/28 must itself be (1, 3, 5, 7) / (1, 3, 5, 7) * 2^k: it is not."""
    text = model(PAIR.replace("param a_plus = 0.0625", "param a_plus = 0.07")
                     .replace("w += a_plus * x_pre", "w += a_plus * x_post"))
    plan = plan_of(text)
    assert "S" not in plan.natives
    d = _note(plan, "L713")
    assert "not m * 2^e" in d.message and "nearest" in d.hints[0]
    assert text.split("\n")[d.span.line - 1].strip().startswith("w ")


@pytest.mark.parametrize("body, words", [
    ("w += a_plus * x_pre / (1 + x_post)", "not a polynomial"),
    ("w = clip(w + a_plus * x_pre, 0, 1)", "clipped"),
    ("w += a_plus * exp(x_pre)", "not a sum of products"),
])
def test_what_loihi_cannot_express(body, words):
    plan = plan_of(model(PAIR.replace("w += a_plus * x_pre", body)))
    assert "S" not in plan.natives
    assert words in _note(plan, "L712").message


def test_too_many_traces():
    text = model("""
    synapse Syn:
        param a = 0.0625
        state w = 0.25
        trace x1: decay 0.9 on pre += 1
        trace x2: decay 0.8 on pre += 1
        trace x3: decay 0.7 on pre += 1
        on pre:
            post.I += w
        on post:
            w += a * (x1 + x2 + x3)
    """)
    d = _note(plan_of(text), "L712")
    assert "one pre" in d.message and "x1, x2" in d.hints[0]


def test_same_step_delivery_is_custom_with_the_delay_hint():
    plan = plan_of(model(PAIR, extra=""))
    assert "S" not in plan.natives
    assert "delay 1" in _note(plan, "L711").hints[0]


def test_bounded_rule_in_two_handlers_needs_approximate():
    text = model(PAIR.replace("w -= a_minus * x_post", "w = max(w - a_minus * x_post, 0)")
                     .replace("w += a_plus * x_pre", "w = max(w + a_plus * x_pre, 0)"))
    plan = plan_of(text)
    assert "S" not in plan.natives and _note(plan, "L714").severity is Severity.NOTE
    plan = plan_of(text, approximate=True)
    assert plan.natives["S"].rule.sign_mode == "EXCITATORY"
    assert _note(plan, "L714").severity is Severity.WARNING


def test_native_require_turns_misfits_into_errors():
    text = model(PAIR, extra="")
    with pytest.raises(lava.PlanError) as info:
        plan_of(text, native="require")
    assert "L711" in str(info.value) and "delay 1" in str(info.value)


def test_native_off_keeps_everything_custom():
    plan = plan_of(model(PAIR), native="off")
    assert plan.natives == {} and "native='off'" in plan.reasons["S"]


def test_explain_prints_strings_scales_and_reasons():
    checked = check_text(model(PAIR), "inline.snn")
    text = lava.explain(lower(checked), "net")
    assert "connection S: native LearningDense" in text and "population out: native LIF" in text
    assert '"-1*2^-4*x0*y1 + 1*2^-4*y0*x1"' in text          # floating_pt
    assert '"-1*x0*y1 + 1*y0*x1"' in text                       # fixed_pt
    assert "impulse 16" in text and "12-bit" in text and "du = 1023" in text
    assert "population x: custom" in text
