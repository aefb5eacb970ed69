"""The Lava backend as an Executable: states, parameters, resets, NaN reports, options, errors,
the standalone package of `snnc compile --target lava`, and that no Lava process outlives it."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import snnlang
from snnlang.ir.lower import lower
from snnlang.runtime.executable import NumericalError, Options, PhaseRun
from snnlang.runtime.model import CompileError
from snnlang.semantics.checker import check_path, check_text
from snnlang_backends import lava, reference

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

pytestmark = pytest.mark.skipif(not lava.lava_available(),
                                reason="lava-nc is not installed (scripts/install.sh installs it)")

NATIVE = """
neuron LIF:
    param du = 0.25
    param dv = 0.125
    param vth = 2
    input I
    state u = 0
    state v = 0
    u <- (1 - du) * u + I
    v <- (1 - dv) * v + u
    spike when v > vth:
        v = 0

synapse Syn:
    param a = 0.0625
    state w = 0.25
    trace x_pre: decay 0.9 on pre += 1
    trace x_post: decay 0.9 on post += 1
    on pre:
        post.I += w
        w -= a * x_post
    on post:
        w += a * x_pre

network net:
    input x = poisson(12, rate = 0.2)
    layer out = LIF(3)
    connect S: x -> out with Syn(dense):
        init w = uniform(0, 0.498046875)
        delay 1
"""

CUSTOM = """
neuron Leaky:
    param tau = 8
    param th = 1.5
    state v = 0
    input I
    v <- v * exp(-1 / tau) + I
    spike when v > th:
        v = 0

synapse Plastic:
    param lr = 0.01
    state w: fixed<8, scale = 2^-7, round = stochastic> = 0.3
    trace x: tau 5 on pre += 1
    on pre:
        post.I += w
    on post:
        w += lr * x

network net:
    input x = poisson(10)
    layer out = Leaky(4)
    connect C: x -> out with Plastic(dense):
        init w = uniform(0, 0.6)
    schedule:
        phase present(15):
            plastic C
            reset all
"""


def ir_of(text: str):
    checked = check_text(textwrap.dedent(text), "inline.snn")
    assert checked.ok, [d.message for d in checked.errors]
    return lower(checked)


@pytest.fixture
def built():
    made = []

    def make(ir, network="net", **options):
        seed = options.pop("seed", 0)
        batch = options.pop("batch", 1)
        exe = lava.build(ir, network, Options(seed=seed, batch=batch, extra=options))
        made.append(exe)
        return exe

    yield make
    for exe in made:
        exe.close()
    assert multiprocessing.active_children() == []


def test_states_parameters_and_resets_follow_the_reference(built):
    ir = ir_of(CUSTOM)
    exe, ref = built(ir, seed=1), reference.build(ir, "net", Options(seed=1))
    data = {"x": np.linspace(0, 1, 10)[None]}
    for e in (exe, ref):
        e.set_param("C", "lr", 0.05)                      # a runtime value: no new code
        e.set("out.v", np.full((1, 4), 0.7))
        e.set("C.w", np.full((4, 10), 0.123))            # quantised to 2^-7 steps, stochastically
        e.run_phase(PhaseRun("present", 15, None, frozenset({"C"}), data, ()))
    assert exe.get_param("C", "lr") == 0.05
    for name in ref.state_names():
        np.testing.assert_array_equal(exe.get(name), ref.get(name), err_msg=name)
    for owners in (None, frozenset({"out"}), frozenset({"C"})):
        exe.reset(owners)
        ref.reset(owners)
        for name in ref.state_names():
            np.testing.assert_array_equal(exe.get(name), ref.get(name), err_msg=f"{name} after reset {owners}")
    with pytest.raises(KeyError, match="no state"):
        exe.get("out.nope")
    with pytest.raises(ValueError, match="shape"):
        exe.set("out.v", np.zeros(3))


def test_large_arrays_travel_through_the_exchange_folder(built):
    ir = lower(check_path(ROOT / "models" / "stdp.snn"))
    exe = built(ir, "stdp")
    w = np.random.default_rng(0).random((20, 1000)) * 0.01       # 20,000 elements: not per message
    exe.set("S.w", w)
    np.testing.assert_array_equal(exe.get("S.w"), w)


def test_native_states_convert_and_their_parameters_are_compiled_in(built):
    ir = ir_of(NATIVE)
    exe = built(ir, seed=3)
    assert set(exe.m.NATIVE) == {"out", "S"}
    w = np.full((3, 12), 0.125)
    exe.set("S.w", w)
    np.testing.assert_array_equal(exe.get("S.w"), w)
    exe.set("out.v", np.array([[0.5, 1.0, 1.5]]))
    np.testing.assert_array_equal(exe.get("out.v"), [[0.5, 1.0, 1.5]])
    exe.set_param("S", "a", 0.0625)                        # unchanged: fine (a checkpoint restores it)
    with pytest.raises(lava.BuildError, match="compile again"):
        exe.set_param("S", "a", 0.125)
    model = snnlang.compile(textwrap.dedent(NATIVE), target="lava", seed=3)
    try:
        rec = model.run(50)                                 # records every population's spikes
        assert rec["out.spike"].shape == (50, 1, 3) and rec["out.spike"].sum() > 0
        ref = snnlang.compile(textwrap.dedent(NATIVE), target="reference", seed=3)
        np.testing.assert_array_equal(rec["out.spike"], ref.run(50)["out.spike"])
    finally:
        model.exe.close()


def test_fixed_pt_native_weights_are_8_bit_integers(built):
    exe = built(ir_of(NATIVE), tag="fixed_pt")
    raw = np.asarray(exe.procs["S"].weights.get())
    assert np.array_equal(raw, np.round(raw)) and raw.min() >= -256 and raw.max() <= 255
    step = exe.m.NATIVE["S"]["scales"]["fixed_pt"]
    np.testing.assert_array_equal(exe.get("S.w"), raw * step)


def test_nan_is_reported_like_the_reference(built):
    ir = ir_of("""
    neuron Blow:
        param g = 3
        state v = 1
        v <- v * g
        spike when v < 0:
            v = 0

    network net:
        layer p = Blow(2)
    """)
    exe, ref = built(ir), reference.build(ir, "net", Options())
    run = PhaseRun(None, 700, None, frozenset(), {}, ())
    with pytest.raises(NumericalError) as ours:
        exe.run_phase(run)
    with pytest.raises(NumericalError) as theirs:
        ref.run_phase(run)
    assert (ours.value.name, ours.value.step_number, ours.value.index) == \
        (theirs.value.name, theirs.value.step_number, theirs.value.index)


def test_options_and_unsupported_models_say_what_to_do(built):
    ir = ir_of(CUSTOM)
    with pytest.raises(lava.BuildError, match="floating_pt"):
        lava.build(ir, "net", Options(extra={"tag": "float"}))
    with pytest.raises(lava.BuildError, match="float64"):
        lava.build(ir, "net", Options(dtype="float32"))
    with pytest.raises(lava.BuildError, match="native="):
        lava.build(ir, "net", Options(extra={"native": "maybe"}))
    with pytest.raises(lava.BuildError, match="batch=1"):
        lava.build(ir_of(NATIVE), "net", Options(batch=2))
    exe = built(ir, batch=2)                                # custom processes take batches
    assert exe.get("out.v").shape == (2, 4)
    tied = textwrap.dedent(CUSTOM) + "    connect D: x -> out with Plastic(dense):\n        tie w = C.w\n"
    with pytest.raises(CompileError) as info:
        snnlang.compile(tied, target="lava")
    assert info.value.diagnostics[0].code == "L701" and "owns its synaptic memory" in str(info.value)


def test_a_closed_network_says_so(built):
    exe = built(ir_of(CUSTOM))
    exe.close()
    exe.close()
    with pytest.raises(RuntimeError, match="closed"):
        exe.run_phase(PhaseRun("present", 2, None, frozenset(), {"x": np.zeros((1, 10))}, ()))


def test_snnc_compile_writes_a_package_that_runs_without_snnlang(tmp_path):
    model = tmp_path / "pair.snn"
    model.write_text(textwrap.dedent(NATIVE))
    out = tmp_path / "out"
    proc = subprocess.run([PYTHON, "-m", "snnlang.cli", "compile", str(model), "--target", "lava", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    package = out / "pair"
    manifest = json.loads((package / "manifest.json").read_text())
    rules = manifest["networks"]["net"]["native"]["S"]["rules"]
    assert rules["floating_pt"]["dw"] and rules["fixed_pt"]["dw"]
    assert manifest["networks"]["net"]["native"]["out"]["lava"] == "LIF"
    script = textwrap.dedent("""
        import sys
        import pair
        for tag in ("floating_pt", "fixed_pt"):
            net = pair.load(seed=1, tag=tag)
            out = net.run(steps=40, record=("out.spike",))
            print(tag, out["out.spike"].shape, float(abs(net.get("S.w")).sum()) > 0)
            net.close()
        print("snnlang imported:", any(m.split(".")[0] in ("snnlang", "snnlang_backends") for m in sys.modules))
    """)
    env = dict(os.environ, PYTHONPATH=str(out))
    proc = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, cwd=out, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "floating_pt (40, 1, 3) True" in proc.stdout and "fixed_pt (40, 1, 3) True" in proc.stdout
    assert "snnlang imported: False" in proc.stdout


def test_snnc_compile_of_stdp_runs_with_lava(tmp_path):
    """The issue's acceptance line: `snnc compile models/stdp.snn --target lava -o out/`."""
    out = tmp_path / "out"
    proc = subprocess.run([PYTHON, "-m", "snnlang.cli", "compile", str(ROOT / "models" / "stdp.snn"), "--target",
                           "lava", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    script = ("import stdp; net = stdp.load(seed=2); r = net.run('run', 30, plastic={'S'}, record=('out.v',)); "
              "print(r['out.v'].shape); net.close()")
    proc = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, cwd=out,
                          env=dict(os.environ, PYTHONPATH=str(out)), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(30, 1, 20)" in proc.stdout


def test_batches_of_custom_processes_follow_the_reference(built):
    ir = ir_of(CUSTOM)
    exe, ref = built(ir, seed=5, batch=2), reference.build(ir, "net", Options(seed=5, batch=2))
    data = {"x": np.random.default_rng(1).random((2, 10))}
    for e in (exe, ref):
        e.run_phase(PhaseRun("present", 15, None, frozenset({"C"}), data, ()))
    for name in ref.state_names():
        np.testing.assert_array_equal(exe.get(name), ref.get(name), err_msg=name)


def test_checkpoints_restore_a_lava_model(tmp_path):
    from snnlang.runtime.model import Dataset
    text = textwrap.dedent(CUSTOM)
    data = Dataset(np.random.default_rng(2).random((3, 10)), np.zeros(3, dtype=np.int64))
    model = snnlang.compile(text, target="lava", seed=4)
    ref = snnlang.compile(text, target="reference", seed=4)
    try:
        model.train(data, progress=False)
        model.save(tmp_path / "ckpt.npz")
    finally:
        model.exe.close()
    restored = snnlang.load(tmp_path / "ckpt.npz")
    try:
        assert restored.target == "lava"
        ref.train(data, progress=False)
        for name in ref.state_names():
            np.testing.assert_array_equal(restored.get(name), ref.get(name), err_msg=name)
        restored.train(data, progress=False)          # and it goes on exactly like the reference
        ref.train(data, progress=False)
        np.testing.assert_array_equal(restored.get("C.w"), ref.get("C.w"))
    finally:
        restored.exe.close()


def test_runtime_copies_agree_with_snnlang():
    """backends/lava/runtime.py is copied into standalone packages, so it keeps its own copy of
    the counter-based RNG and of fixed-point quantisation: they must not drift from snnlang's."""
    from snnlang.ir import rng
    from snnlang.semantics.symbols import ValueType
    from snnlang_backends.lava import runtime as R
    from snnlang_backends.reference.fixed import quantise
    index = np.arange(5000, dtype=np.uint64) * 7919
    for seed, stream, step in ((0, 0, 0), (123456, 77, 991), (2 ** 32 - 1, R.encoder_stream(3), 5)):
        np.testing.assert_array_equal(R.uniform(seed, stream, step, index), rng.uniform_np(seed, stream, step, index))
        np.testing.assert_array_equal(R.normal(seed, stream, step, index), rng.normal_np(seed, stream, step, index))
    assert (R.encoder_stream(2), R.connectivity_stream(3), R.rounding_stream(4, 5)) == \
        (rng.encoder_stream(2), rng.connectivity_stream(3), rng.rounding_stream(4, 5))
    values = np.linspace(-3, 3, 1001)
    u = rng.uniform_np(1, 2, 3, np.arange(1001, dtype=np.uint64))
    for rounding in ("nearest", "floor", "stochastic"):
        for overflow in ("saturate", "wrap"):
            for signed in (True, False):
                vt = ValueType("fixed", bits=6, scale=2.0 ** -3, rounding=rounding, overflow=overflow, signed=signed)
                np.testing.assert_array_equal(R.quantise(values, (6, 2.0 ** -3, rounding, overflow, signed), u),
                                              quantise(values, vt, u))


def test_generated_source_is_deterministic():
    ir = ir_of(NATIVE)
    assert lava.source(ir, "net") == lava.source(ir_of(NATIVE), "net")
    text = lava.source(ir, "net")
    assert "@tag('floating_pt')" in text and "@tag('fixed_pt')" in text and "inline.snn:" in text


def test_lava_imports_after_the_start_method_was_fixed(tmp_path):
    """Lava's import calls set_start_method('fork'), which fails once anything fixed the start
    method (even get_start_method()); the backend makes that harmless when it is 'fork'."""
    (tmp_path / "m.snn").write_text(textwrap.dedent(CUSTOM))
    script = ("import multiprocessing; multiprocessing.get_start_method(); import numpy, snnlang; "
              "m = snnlang.compile('m.snn', target='lava'); "
              "print(m.run(3, inputs=numpy.zeros(10))['out.spike'].shape); m.exe.close()")
    proc = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(3, 1, 4)" in proc.stdout


def test_sparse_connections_follow_the_reference(built):
    ir = ir_of(CUSTOM.replace("Plastic(dense)", "Plastic(sparse(p = 0.4))"))
    exe, ref = built(ir, seed=6), reference.build(ir, "net", Options(seed=6))
    data = {"x": np.full((1, 10), 0.7)}
    for e in (exe, ref):
        e.run_phase(PhaseRun("present", 15, None, frozenset({"C"}), data, ()))
    assert exe.state_names() == ref.state_names()       # CSR index arrays included
    for name in ref.state_names():
        np.testing.assert_array_equal(exe.get(name), ref.get(name), err_msg=name)


def test_static_projections_map_to_dense_including_one_to_one(built):
    text = NATIVE.replace("layer out = LIF(3)", "layer out = LIF(3)\n    layer relay = LIF(3)") + \
        "    connect R: out -> relay with Fixed(one_to_one):\n        init w = 2.5\n        delay 1\n"
    text = text.replace("network net:", "synapse Fixed:\n    state w = 1\n    on pre:\n        post.I += w\n\n"
                        "network net:")
    ir = ir_of(text)
    exe, ref = built(ir, seed=7), reference.build(ir, "net", Options(seed=7))
    assert {k: v["kind"] for k, v in exe.m.NATIVE.items()} == {"out": "lif", "relay": "lif",
                                                               "S": "learning_dense", "R": "dense"}
    run = PhaseRun(None, 200, None, frozenset({"S"}), {}, ("relay.spike",))
    a, b = exe.run_phase(run), ref.run_phase(run)
    assert b["relay.spike"].sum() > 5
    np.testing.assert_array_equal(a["relay.spike"], b["relay.spike"])
    np.testing.assert_array_equal(exe.get("R.w"), ref.get("R.w"))          # the diagonal, as (3,)
