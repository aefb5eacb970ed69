"""Equivalence of the Lava backend with the emulation and with the reference executor.

(a) fixed_pt: Lava's bit-approximate LearningDense and snnlang's emulation (emulate.py) give
    identical weights and traces from the same spikes;
(b) floating_pt: a native network (Lava's LIF + LearningDense) follows the reference executor;
    custom processes (generated from the IR) match it to the bit.
"""

from __future__ import annotations

import multiprocessing
import textwrap

import numpy as np
import pytest

from snnlang.ir.lower import lower
from snnlang.runtime.executable import Options, PhaseRun
from snnlang.semantics.checker import check_path, check_text
from snnlang_backends import lava, reference
from snnlang_backends.lava.emulate import LearningEngine

pytestmark = pytest.mark.skipif(not lava.lava_available(),
                                reason="lava-nc is not installed (scripts/install.sh installs it)")

NETWORK = """
neuron LIF:
    param du = 0.25
    param dv = 0.125
    param vth = 3
    input I
    state u = 0
    state v = 0
    u <- (1 - du) * u + I
    v <- (1 - dv) * v + u
    spike when v > vth:
        v = 0

synapse Syn:
    param a_plus = 0.0625
    param a_minus = 0.125
    state w = 0.25
    trace x_pre: decay 0.9 on pre += 1
    trace x_post: decay 0.85 on post += 1
    on pre:
        post.I += w
        w -= a_minus * x_post
    on post:
        w += {potentiation}

network net:
    input x = poisson(30, rate = 0.1)
    layer out = LIF(6)
    connect S: x -> out with Syn(dense):
        init w = uniform(0, 0.498046875)
        delay 1
"""

PAIR = NETWORK.format(potentiation="a_plus * x_pre")
# an eligibility trace e in Loihi's tag t (dt string), read by the weight every step (dw = lr * t);
# the .snn reads e after this step's change, Loihi before: native only with approximate=True
ELIGIBILITY = NETWORK.replace("""    state w = 0.25
""", """    state w = 0.25
    state e = 0
""").replace("w -= a_minus * x_post", "e -= a_minus * x_post").format(
    potentiation="0\n        e += a_plus * x_pre\n    every step:\n        w += 0.25 * e\n        e -= 0.125 * e")
# y0 * x1 * y1: 18 bits of factors -> Lava shifts the product right by 3 in fixed point
WIDE = NETWORK.format(potentiation="a_plus * x_pre - 0.125 * x_pre * x_post")


def ir_of(text: str):
    checked = check_text(textwrap.dedent(text), "inline.snn")
    assert checked.ok, [d.message for d in checked.errors]
    return lower(checked)


@pytest.fixture
def built():
    """build(...) that closes every Lava network it made, and checks no process is left."""
    made = []

    def make(ir, network, **options):
        seed = options.pop("seed", 0)
        exe = lava.build(ir, network, Options(seed=seed, extra=options))
        made.append(exe)
        return exe

    yield make
    for exe in made:
        exe.close()
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("text, shifted", [(PAIR, False), (WIDE, True), (ELIGIBILITY, False)],
                         ids=["pair", "wide-product", "eligibility-tag"])
def test_fixed_pt_lava_and_emulation_agree_to_the_bit(built, text, shifted):
    ir = ir_of(text)
    tagged = "state e" in text
    plan = lava.plan(ir, "net", Options(extra={"approximate": tagged}))
    assert plan.natives["S"].kind == "learning_dense" and plan.natives["out"].kind == "lif"
    conversion = plan.natives["S"].conversions["fixed_pt"]
    assert any(p.shift for p in conversion.products) == shifted
    exe = built(ir, "net", seed=4, tag="fixed_pt", approximate=tagged)
    start = np.asarray(exe.procs["S"].weights.get())
    rec = exe.run_phase(PhaseRun(None, 150, None, frozenset({"S"}), {}, ("x.spike", "out.spike")))
    pre, post = rec["x.spike"][:, 0], rec["out.spike"][:, 0]
    assert 5 < post.sum() < 0.8 * post.size          # the post neurons fire, but not every step
    engine = LearningEngine(conversion, start, exe._rule_seed("S"))
    engine.run(pre, post)
    weights = np.asarray(exe.procs["S"].weights.get())
    assert np.sum(weights != start) > 20              # learning happened
    np.testing.assert_array_equal(engine.weights, weights)
    np.testing.assert_array_equal(engine.x[0], np.asarray(exe.procs["S"].x1.get()))
    np.testing.assert_array_equal(engine.y[0], np.asarray(exe.procs["S"].y1.get()))
    if tagged:
        assert "dt" in conversion.strings()          # (the weights learned from it: t was not 0)
        np.testing.assert_array_equal(engine.tag, np.asarray(exe.procs["S"].tag_1.get()))
    # the model view is the same integers times the weight step
    np.testing.assert_allclose(exe.get("S.w"), engine.model_weights(), rtol=0, atol=0)


def test_floating_pt_native_network_follows_the_reference(built):
    """Lava's float LIF and LearningDense do the model's arithmetic reassociated (a dense sum over
    the spiking inputs, products m * 2^e, decays exp(-1/tau) with tau = -1/ln(0.9)), so states
    differ by a few float64 ulps per step. No threshold crossing is that close in this run: the
    spikes are identical and the weights agree to 1e-12 relative to their scale."""
    ir = ir_of(PAIR)
    exe = built(ir, "net", seed=2)
    assert set(exe.m.NATIVE) == {"out", "S"}
    ref = reference.build(ir, "net", Options(seed=2))
    run = PhaseRun(None, 300, None, frozenset({"S"}), {}, ("out.spike",))
    a, b = exe.run_phase(run), ref.run_phase(run)
    assert a["out.spike"].sum() > 20
    np.testing.assert_array_equal(a["out.spike"], b["out.spike"])
    scale = np.max(np.abs(ref.get("S.w")))
    np.testing.assert_allclose(exe.get("S.w"), ref.get("S.w"), rtol=0, atol=1e-12 * scale)
    for name in ("out.v", "out.u", "S.x_pre", "S.x_post"):
        np.testing.assert_allclose(exe.get(name), ref.get(name), rtol=1e-12, atol=1e-12)


def test_custom_processes_match_the_reference_to_the_bit(built):
    """models/stdp.snn runs as custom processes only (its neuron keeps a rate trace, its synapse
    delivers in the same step): every state equals the reference executor's, bit for bit."""
    from pathlib import Path
    ir = lower(check_path(Path(__file__).resolve().parents[2] / "models" / "stdp.snn"))
    exe = built(ir, "stdp", seed=1)
    assert exe.m.NATIVE == {}
    ref = reference.build(ir, "stdp", Options(seed=1))
    run = PhaseRun("run", 400, None, frozenset({"S"}), {}, ())
    exe.run_phase(run)
    ref.run_phase(run)
    assert exe.state_names() == ref.state_names()
    assert ref.get("out.spike").sum() >= 0 and ref.get("S.w").std() > 0
    for name in ref.state_names():
        np.testing.assert_array_equal(exe.get(name), ref.get(name), err_msg=name)
