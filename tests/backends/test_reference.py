"""The reference executor against closed forms, hand computations and the RNG's own formulas.

Tolerances: results that are exact in binary (dyadic constants, counts, copies) are compared
with ==. Closed forms of exponential decay are compared to 1e-12 absolute: the executor
multiplies by exp(-dt/tau) once per step, so after k steps its value differs from
exp(-k dt/tau) by about k rounding errors of ~1e-16 relative (k <= 2000 here, values <= 0.1).
Statistical checks use 4 or 5 sigma bounds, stated at each test (the draws are deterministic
for a fixed seed, so these tests cannot flake; the bound says the law is right).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnlang.ir import functions as F
from snnlang.ir import rng
from snnlang.ir.lower import lower
from snnlang.runtime.executable import NumericalError, Options, PhaseRun
from snnlang.semantics.checker import check_text
from snnlang_backends.reference import build
from snnlang_backends.reference.fixed import quantise
from snnlang.semantics.symbols import ValueType


# ----------------------------------------------------------------------------- helpers


def compile_model(src: str):
    checked = check_text(src)
    assert checked.ok, [f"{d.code}: {d.message}" for d in checked.errors]
    return lower(checked)


def make(src: str, network: str = "n", **options):
    ir = compile_model(src)
    return ir, build(ir, network, Options(**options))


def simulate(exe, steps: int, data=None, record=(), plastic=None):
    """A plain simulation (network without schedule): everything active and plastic."""
    if plastic is None:
        plastic = frozenset(c.name for c in exe.network.connections)
    return exe.run_phase(PhaseRun(None, steps, None, plastic, data or {}, tuple(record)))


def run_sample(exe, data, record=()):
    """One sample through the schedule, as the runtime does it: reset at phase start, then run."""
    out = {}
    for ph in exe.network.schedule.phases:
        if ph.reset_all:
            exe.reset(None)
        elif ph.reset:
            exe.reset(ph.reset)
        out[ph.name] = exe.run_phase(PhaseRun(ph.name, ph.steps, ph.active, ph.plastic, data, tuple(record)))
    return out


def streams_of(expr, cls) -> list[int]:
    """Stream numbers of the calls of `cls` in an IR expression."""
    return [int(a.args[-1]) for a in expr.atoms(cls)]


RELAY = """
neuron Relay:
    state v = 0
    input I
    v <- I
    spike when v > 0.5

synapse Drive:
    on pre:
        post.I += 1
"""


# ----------------------------------------------------------------------------- LIF


LIF = """
neuron LIF:
    param tau_m = 20 ms
    param v_rest = -65 mV
    param R = 100 MOhm
    param I_ext = 0 nA
    state v = -50 mV
    input I: nA
    dv/dt = (v_rest - v + R * (I + I_ext)) / tau_m
    spike when v > 100 mV:
        v = v_rest

synapse Const:
    param w = 0.1 nA
    every step:
        post.I += w

network n:
    input x = regular(1)
    layer free = LIF(2)
    layer biased = LIF(2, I_ext = 0.1 nA)
    layer fed = LIF(2)
    connect x -> fed with Const(dense)
    timestep 0.1 ms
"""


def test_lif_relaxes_exactly_as_the_closed_form():
    """v(t) = v_inf + (v0 - v_inf) exp(-t / tau_m), v_inf = v_rest + R I; no spikes."""
    _, exe = make(LIF)
    steps = 2000
    rec = simulate(exe, steps, {"x": np.zeros((1, 1))}, ("free.v", "biased.v", "fed.v"))
    t = np.arange(1, steps + 1) * 1e-4
    v0, v_rest, tau, R = -50e-3, -65e-3, 20e-3, 100e6
    for pop, current in (("free", 0.0), ("biased", 0.1e-9), ("fed", 0.1e-9)):
        v_inf = v_rest + R * current
        expected = v_inf + (v0 - v_inf) * np.exp(-t / tau)
        np.testing.assert_allclose(rec[f"{pop}.v"][:, 0, 0], expected, rtol=0, atol=1e-12)
    # the `every step` synapse from a silent input is the same constant current as the param
    np.testing.assert_allclose(rec["fed.v"], rec["biased.v"], rtol=0, atol=1e-15)


def test_unit_free_decay():
    _, exe = make("""
neuron Leak:
    state v = 1
    dv/dt = -v / 10
    spike when v > 2

network n:
    layer h = Leak(3)
""")
    rec = simulate(exe, 100, record=("h.v",))
    np.testing.assert_allclose(rec["h.v"][:, 0, 0], np.exp(-np.arange(1, 101) / 10), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- encoders


ENCODERS = RELAY + """
network n:
    input r = regular(7)
    input h = regular(7, gain = 0.5)
    input pz = poisson(4)
    input pr = poisson(4, rate = 50 Hz)
    input b = bernoulli(4, p = 0.1)
    layer o = Relay(4)
    connect pz -> o with Drive(one_to_one)
    connect pr -> o with Drive(one_to_one)
    connect b -> o with Drive(one_to_one)
    connect r -> o with Drive(dense)
    connect h -> o with Drive(dense)
    timestep 1 ms
"""


def test_regular_encoder_counts():
    """After n steps a regular encoder has spiked floor(n * gain * x + 1e-9) times (the 1e-9 is its
    threshold 1 - 1e-9), so it spikes at step k exactly when that count goes up."""
    _, exe = make(ENCODERS)
    x = np.array([[0.0, 0.1, 0.25, 0.3, 0.5, 0.77, 1.0]])
    steps = 200
    rec = simulate(exe, steps, {"r": x, "h": x, "pz": np.zeros((1, 4))}, ("r.spike", "h.spike"))
    n = np.arange(steps + 1)[:, None]
    for name, gain in (("r", 1.0), ("h", 0.5)):
        count = np.floor(n * gain * x[0] + 1e-9)
        np.testing.assert_array_equal(rec[f"{name}.spike"][:, 0], np.diff(count, axis=0))
        np.testing.assert_array_equal(rec[f"{name}.spike"].sum(axis=0)[0], np.floor(steps * gain * x[0] + 1e-9))


def test_poisson_and_bernoulli_encoders():
    """Each step spike = u < p with u the encoder stream's uniform; counts over 10k steps lie
    within 4 sigma of p * steps (sigma = sqrt(steps p (1 - p)))."""
    ir, exe = make(ENCODERS, seed=7)
    steps = 10_000
    pz = np.array([[0.05, 0.2, 0.5, 0.9]])
    rec = simulate(exe, steps, {"r": np.zeros((1, 7)), "h": np.zeros((1, 7)), "pz": pz},
                   ("pz.spike", "pr.spike", "b.spike"))
    order = [p.name for p in ir.networks["n"].populations]
    # the exact rule at a few steps
    for step in (0, 1, 4321, steps - 1):
        u = rng.uniform_np(7, rng.encoder_stream(order.index("pz")), step, np.arange(4))
        np.testing.assert_array_equal(rec["pz.spike"][step, 0], u < pz[0])
    for name, p in (("pz", pz[0]), ("pr", np.full(4, 50 * 1e-3)), ("b", np.full(4, 0.1))):
        counts = rec[f"{name}.spike"].sum(axis=0)[0]
        sigma = np.sqrt(steps * p * (1 - p))
        assert np.all(np.abs(counts - steps * p) < 4 * sigma), (name, counts, steps * p)


def test_latency_events_and_onehot():
    _, exe = make(RELAY + """
network n:
    input lat = latency(3, window = 9)
    input lat_phase = latency(2)
    input ev = events(2)
    label y = onehot(3)
    layer o = Relay(3)
    connect lat -> o with Drive(one_to_one)
    connect lat_phase -> o with Drive(dense)
    connect ev -> o with Drive(dense)
    connect y -> o with Drive(one_to_one)
""", batch=2)
    frames = np.zeros((2, 3, 2))
    frames[0, 1, 0] = 1
    frames[1, 2, 1] = 2
    data = {"lat": np.array([[1.0, 0.5, 0.0], [0.25, 1.0, 1.0]]), "lat_phase": np.array([[1.0, 0.5]] * 2),
            "ev": frames, "y": np.array([2, 0])}
    rec = simulate(exe, 10, data, ("lat.spike", "lat_phase.spike", "ev.spike", "y.spike"))
    # latency: x > 0 spikes once, at step floor((1 - x) * (W - 1)); W = window, else the phase length
    lat = rec["lat.spike"]
    assert lat.sum() == 5
    assert lat[0, 0, 0] == 1 and lat[4, 0, 1] == 1 and lat[6, 1, 0] == 1 and lat[0, 1, 1] == lat[0, 1, 2] == 1
    assert rec["lat_phase.spike"][0, :, 0].all() and rec["lat_phase.spike"][4, :, 1].all()
    assert rec["lat_phase.spike"].sum() == 4
    # events: frame k at phase step k, nothing after the last frame
    ev = rec["ev.spike"]
    assert ev.sum() == 2 and ev[1, 0, 0] == 1 and ev[2, 1, 1] == 1
    # onehot: the class neuron every step
    np.testing.assert_array_equal(rec["y.spike"], np.broadcast_to([[0, 0, 1], [1, 0, 0]], (10, 2, 3)))


# ----------------------------------------------------------------------------- STDP


STDP = RELAY + """
synapse STDP:
    param a_plus = 0.01
    param a_minus = 0.012
    state w = 0.5
    trace x_pre: tau 20 on pre += 1
    trace x_post: tau 20 on post += 1
    on pre:
        w -= a_minus * x_post
    on post:
        w += a_plus * x_pre

network n:
    input a = latency(1, window = 9)
    input b = latency(1, window = 9)
    layer p = Relay(1)
    connect b -> p with Drive(one_to_one)
    connect S: a -> p with STDP(dense)
"""


@pytest.mark.parametrize("t_pre,t_post", [(0, 1), (1, 4), (2, 7), (3, 1), (7, 0), (4, 4)])
def test_pair_stdp_closed_form(t_pre, t_post):
    """One pre spike at t_pre, one post spike at t_post (latency encoders, window 9, x = 1 - t/8 > 0):
    w = 0.5 + a_plus exp(-(t_post - t_pre)/tau) if pre came first, 0.5 - a_minus exp(-(t_pre - t_post)/tau)
    if post came first, unchanged if simultaneous (the traces decay, then learn, then count)."""
    _, exe = make(STDP)
    data = {"a": np.array([[1 - t_pre / 8]]), "b": np.array([[1 - t_post / 8]])}
    rec = simulate(exe, 10, data, ("a.spike", "p.spike"))
    assert rec["a.spike"][t_pre, 0, 0] == 1 and rec["a.spike"].sum() == 1
    assert rec["p.spike"][t_post, 0, 0] == 1 and rec["p.spike"].sum() == 1
    d = t_post - t_pre
    expected = 0.5 + (0.01 * math.exp(-d / 20) if d > 0 else -0.012 * math.exp(d / 20) if d < 0 else 0.0)
    assert abs(exe.get("S.w")[0, 0] - expected) < 1e-12
    assert abs(exe.get("S.x_pre")[0, 0] - math.exp(-(9 - t_pre) / 20)) < 1e-12


# ----------------------------------------------------------------------------- refractoriness


@pytest.mark.parametrize("n", [0, 1, 3])
def test_refractory_period_in_steps(n):
    """Driven above threshold every step, a neuron with `refractory n` (steps) spikes every n + 1 steps."""
    _, exe = make(f"""
neuron R:
    state v = 0
    v <- 2
    spike when v > 1:
        v = 0
    refractory {n}

network n:
    layer h = R(2)
""")
    rec = simulate(exe, 24, record=("h.spike",))
    expected = (np.arange(24) % (n + 1) == 0).astype(float)
    np.testing.assert_array_equal(rec["h.spike"][:, 0, 0], expected)


def test_refractory_period_as_a_time():
    """t_ref = 2 ms at dt = 0.5 ms is 4 steps: a spike every 5 steps."""
    _, exe = make("""
neuron R:
    param t_ref = 2 ms
    state v = 0 mV
    v <- 2 mV
    spike when v > 1 mV:
        v = 0 mV
    refractory t_ref

network n:
    layer h = R(1)
    timestep 0.5 ms
""")
    rec = simulate(exe, 21, record=("h.spike",))
    np.testing.assert_array_equal(np.nonzero(rec["h.spike"][:, 0, 0])[0], [0, 5, 10, 15, 20])


HOLDS = """
neuron R:
    param tau = 10
    state v = 0
    state c = 1
    state u = 0
    v <- 2
    u <- u + 1
    dc/dt = -c / tau
    spike when v > 1:
        v = 0
    refractory 3 HOLDS
    trace n: sum on spike += 1

network n:
    layer h = R(1)
"""


@pytest.mark.parametrize("holds, c_held, u_held", [("", True, True), ("holds v", False, False),
                                                   ("holds v, u", False, True)])
def test_refractory_holds_only_the_listed_variables(holds, c_held, u_held):
    """`refractory 3` holds every ODE/update for 3 steps after a spike; `holds v` only v, so
    c keeps its exact decay c = exp(-k / tau) and the counter u keeps counting."""
    _, exe = make(HOLDS.replace("HOLDS", holds))
    rec = simulate(exe, 12, record=("h.spike", "h.c", "h.u"))
    np.testing.assert_array_equal(np.nonzero(rec["h.spike"][:, 0, 0])[0], [0, 4, 8])
    refractory = np.array([k % 4 != 0 for k in range(12)])   # steps 1-3, 5-7, 9-11
    moving = np.where(refractory & c_held, 0, 1)
    expected_c = np.exp(-np.cumsum(moving) / 10)              # one exact decay per moving step
    np.testing.assert_allclose(rec["h.c"][:, 0, 0], expected_c, rtol=1e-12)
    moving_u = np.where(refractory & u_held, 0, 1)
    np.testing.assert_array_equal(rec["h.u"][:, 0, 0], np.cumsum(moving_u))


# ----------------------------------------------------------------------------- BioGrad-style neuron


def test_two_compartment_neuron_hand_computed():
    """c <- 0.5 c + I; v <- 0.75 v (1 - spike) + c; spike when v > 0.7, with I = 0.375 at the odd
    steps (a regular encoder at x = 0.5 through w = 0.375). `spike` in the update is last step's.
    All values are dyadic, so they are compared exactly."""
    _, exe = make("""
neuron BG:
    state v = 0
    compartment basal:
        state c = 0
        input I
        c <- 0.5 * c + I
    v <- 0.75 * v * (1 - spike) + basal.c
    spike when v > 0.7

synapse W:
    state w = 0.375
    on pre:
        post.I += w

network n:
    input x = regular(1)
    layer h = BG(1)
    connect x -> h.basal with W(dense)
""")
    rec = simulate(exe, 13, {"x": np.array([[0.5]])}, ("h.v", "h.c", "h.spike"))
    c = [0, 0.375, 0.1875, 0.46875, 0.234375, 0.4921875, 0.24609375, 0.498046875, 0.2490234375,
         0.49951171875, 0.249755859375, 0.4998779296875, 0.24993896484375]
    v = [0, 0.375, 0.46875, 0.8203125, 0.234375, 0.66796875, 0.7470703125, 0.498046875, 0.62255859375,
         0.9664306640625, 0.249755859375, 0.68719482421875, 0.7653350830078125]
    np.testing.assert_array_equal(rec["h.c"][:, 0, 0], c)
    np.testing.assert_array_equal(rec["h.v"][:, 0, 0], v)
    np.testing.assert_array_equal(np.nonzero(rec["h.spike"][:, 0, 0])[0], [3, 6, 9, 12])


# ----------------------------------------------------------------------------- connectivity


ACC = """
neuron Acc:
    state s = 0
    input I
    s <- I
    spike when s > 1000

synapse W:
    state w = 0
    on pre:
        post.I += w
"""

DELIVERY = ACC + """
network n:
    input x = bernoulli(6, p = 0.5)
    layer d = Acc(4)
    layer o = Acc(6)
    layer s = Acc(4)
    layer k = Acc(4)
    connect D: x -> d with W(dense):
        init w = uniform(-1, 1)
    connect O: x -> o with W(one_to_one):
        init w = uniform(-1, 1)
    connect S: x -> s with W(sparse(p = 0.5)):
        init w = uniform(-1, 1)
    connect K: x -> k with W(sparse(p = 0.5)):
        init w = kaiming_uniform()
"""


def test_dense_one_to_one_and_sparse_deliveries():
    """post.I[b, i] = sum_j s_pre[b, j] w[i, j] over the stored pairs, in the same step."""
    ir, exe = make(DELIVERY, seed=11, batch=2)
    rec = simulate(exe, 20, record=("x.spike", "d.s", "o.s", "s.s"))
    spikes = rec["x.spike"]
    assert 0 < spikes.mean() < 1
    W = exe.get("D.w")
    np.testing.assert_allclose(rec["d.s"], spikes @ W.T, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(rec["o.s"], spikes * exe.get("O.w"))
    indptr, indices, values = exe.get("S.indptr"), exe.get("S.indices"), exe.get("S.w")
    dense = np.zeros((4, 6))
    for i in range(4):
        dense[i, indices[indptr[i]:indptr[i + 1]]] = values[indptr[i]:indptr[i + 1]]
    np.testing.assert_allclose(rec["s.s"], spikes @ dense.T, rtol=1e-12, atol=1e-15)
    # the sparse mask: mask[i, j] = u < p, connectivity stream of the connection, step 0, index i*N_pre + j
    u = rng.uniform_np(11, rng.connectivity_stream(2), rng.INIT_STEP, np.arange(24)).reshape(4, 6)
    np.testing.assert_array_equal(dense != 0, u < 0.5)
    # initialisers draw at step 0 with the pair's dense index (i * N_pre + j), also for sparse
    conns = {c.name: c for c in ir.networks["n"].connections}
    (s_d,) = streams_of(conns["D"].init[0][1], F.Uniform)
    np.testing.assert_array_equal(W, -1 + 2 * rng.uniform_np(11, s_d, 0, np.arange(24)).reshape(4, 6))
    (s_s,) = streams_of(conns["S"].init[0][1], F.Uniform)
    dense_index = np.repeat(np.arange(4), np.diff(indptr)) * 6 + indices
    np.testing.assert_array_equal(values, -1 + 2 * rng.uniform_np(11, s_s, 0, dense_index))
    # kaiming: (2u - 1) / sqrt(fan_in), fan_in = the row's number of stored pairs
    (s_k,) = streams_of(conns["K"].init[0][1], F.KaimingUniform)
    kp, ki = exe.get("K.indptr"), exe.get("K.indices")
    rows = np.repeat(np.arange(4), np.diff(kp))
    u = rng.uniform_np(11, s_k, 0, rows * 6 + ki)
    np.testing.assert_allclose(exe.get("K.w"), (2 * u - 1) / np.sqrt(np.diff(kp)[rows]), rtol=1e-15)


TIED = """
neuron Unit:
    state v = 0
    state fb = 0
    input I
    input I_fb
    v <- I
    fb <- I_fb
    spike when v > 0.5

synapse Plain:
    state w = 1
    on pre:
        post.I += w

synapse Back:
    param lr = 0.125
    state w = 0
    on pre:
        post.I_fb += w
    on post:
        w += lr

network n:
    input x = bernoulli(4, p = 0.5)
    layer h = Unit(4)
    layer o = Unit(3)
    connect X: x -> h with Plain(one_to_one)
    connect W: h -> o with Plain(dense):
        init w = uniform(0, 1)
    connect B: o -> h with Back(dense):
        tie w = transpose(W.w)
    schedule:
        phase run(30):
            plastic B
"""


def test_tied_transposed_feedback_reads_and_learns_the_original():
    _, exe = make(TIED, seed=5)
    assert "B.w" in exe.state_names()
    W0 = exe.get("W.w")
    np.testing.assert_array_equal(exe.get("B.w"), W0.T)
    rec = run_sample(exe, {}, ("W.w", "B.w", "h.spike", "o.spike", "h.fb"))["run"]
    Ws, hs, os_ = rec["W.w"], rec["h.spike"][:, 0], rec["o.spike"][:, 0]
    np.testing.assert_array_equal(rec["B.w"], np.transpose(Ws, (0, 2, 1)))
    assert os_.sum() > 0 and hs.sum() > 0
    # W before each step's learning (transmission comes before learning in a step)
    prev = np.concatenate([W0[None], Ws[:-1]])
    # B closes a cycle: o's spikes at step k arrive in h.I_fb at step k + 1, read through W^T as it
    # was when B transmitted (during step k, before step k's learning)
    for k in range(1, 30):
        np.testing.assert_allclose(rec["h.fb"][k, 0], prev[k - 1].T @ os_[k - 1], rtol=1e-12, atol=1e-15)
    # learning through the tie: B's `on post` (post = h) adds lr to W[:, j] for each spiking h neuron j
    np.testing.assert_allclose(Ws - prev, 0.125 * np.broadcast_to(hs[:, None, :], Ws.shape), rtol=0, atol=1e-15)
    assert not np.array_equal(Ws[-1], W0)


def test_delay_in_steps_and_network_params_in_init():
    """`delay 3` on a feed-forward connection: the target sees the spike 3 steps later.
    `init w = w0` reads a network parameter (a constant of the lowering)."""
    _, exe = make(ACC + """
network n:
    param w0 = 0.75
    input x = regular(1)
    layer a = Acc(1)
    layer d = Acc(1)
    connect x -> a with W(dense):
        init w = w0
    connect x -> d with W(dense):
        init w = 1
        delay 3
""")
    rec = simulate(exe, 10, {"x": np.array([[0.25]])}, ("a.s", "d.s"))
    assert np.nonzero(rec["a.s"][:, 0, 0])[0].tolist() == [3, 7]
    assert rec["a.s"][3, 0, 0] == 0.75
    assert np.nonzero(rec["d.s"][:, 0, 0])[0].tolist() == [6]   # 3 + 3 (10 would be out of range)


def test_every_builtin_has_an_implementation():
    from snnlang_backends.reference.functions import namespace, op_names
    from snnlang_backends.reference.evaluate import scalar_domain
    assert op_names() <= set(namespace(scalar_domain("x", 0, np.dtype("float64"))))


# ----------------------------------------------------------------------------- batches


def hebb(batch_mode: str) -> str:
    return f"""
neuron Count:
    state v = 0
    input I
    v <- I
    spike when v > 0.5

synapse Hebb:
    param lr = 0.0625
    state w = 0
    trace x_pre: decay 0.5 on pre += 1
    on post:
        w += lr * x_pre

synapse Drive:
    on pre:
        post.I += 1

network n:
    input x = regular(3)
    input y = regular(2)
    layer o = Count(2)
    connect y -> o with Drive(one_to_one)
    connect H: x -> o with Hebb(dense)
    schedule:
        phase learn(25):
            plastic H
        batch {batch_mode}
"""


def test_batch_rows_and_plastic_reduction():
    """Identical data in both rows gives identical rows; each row computes the same change from
    the same W, and `batch sum` applies it twice, `batch mean` once (exact: the changes are dyadic)."""
    data1 = {"x": np.array([[0.5, 0.25, 1.0]]), "y": np.array([[0.5, 0.75]])}
    data2 = {k: np.repeat(v, 2, axis=0) for k, v in data1.items()}
    _, one = make(hebb("sum"))
    _, two_sum = make(hebb("sum"), batch=2)
    _, two_mean = make(hebb("mean"), batch=2)
    r1 = run_sample(one, data1, ("o.v", "H.x_pre"))["learn"]
    r2 = run_sample(two_sum, data2, ("o.v", "H.x_pre"))["learn"]
    run_sample(two_mean, data2)
    for name in ("o.v", "H.x_pre"):
        np.testing.assert_array_equal(r2[name][:, 0], r2[name][:, 1])
        np.testing.assert_array_equal(r2[name][:, :1], r1[name])
    dw = one.get("H.w")
    assert np.all(dw > 0)
    np.testing.assert_array_equal(two_sum.get("H.w"), 2 * dw)
    np.testing.assert_array_equal(two_mean.get("H.w"), dw)


# ----------------------------------------------------------------------------- fixed point


def test_fixed_point_stochastic_rounding():
    """q <- 0.3 into fixed<8, scale = 2^-6, round = stochastic>: every value is k/64 with |k| <= 127,
    q = floor(0.3 * 64 + u) / 64 with u from the rounding stream, and the mean rounding error over
    N = 20000 draws is 0 within 5 sigma (sigma = sqrt(p (1 - p)) / 64 / sqrt(N), p = frac(19.2))."""
    ir, exe = make("""
neuron Q:
    param target = 0.3
    state q: fixed<8, scale = 2^-6, round = stochastic> = 0
    state big: fixed<8, scale = 2^-6> = 0
    q <- target
    big <- 100 * target
    spike when q > 10

network n:
    layer h = Q(1000)
""", seed=3)
    rec = simulate(exe, 20, record=("h.q",))["h.q"]
    k = rec * 64
    assert np.array_equal(k, np.round(k)) and np.all(np.abs(k) <= 127)
    assert set(np.unique(k)) == {19.0, 20.0}
    var_index = [v.name for v in ir.neurons["Q"].vars].index("q")
    u = rng.uniform_np(3, rng.rounding_stream(0, var_index), 7, np.arange(1000))
    np.testing.assert_array_equal(rec[7, 0], np.floor(0.3 * 64 + u) / 64)
    p = 0.3 * 64 - 19
    sigma = math.sqrt(p * (1 - p)) / 64 / math.sqrt(rec.size)
    assert abs(rec.mean() - 0.3) < 5 * sigma
    assert np.all(exe.get("h.big") == 127 / 64)          # saturated


def test_quantise_modes():
    t = ValueType("fixed", bits=4, scale=0.5, rounding="nearest", overflow="saturate")
    np.testing.assert_array_equal(quantise(np.array([0.2, 0.25, -0.25, 3.6, 100, -100]), t),
                                  [0, 0.5, 0, 3.5, 3.5, -3.5])
    floor = ValueType("fixed", bits=4, scale=0.5, rounding="floor", overflow="wrap")
    # q = floor(v / 0.5) wrapped into [-8, 7]: 4.0 -> q 8 -> -8 -> -4.0
    np.testing.assert_array_equal(quantise(np.array([0.7, -0.1, 4.0, 3.9]), floor), [0.5, -0.5, -4.0, 3.5])
    # unsigned: q in [0, 15]; saturation clips at 0, wrapping is modulo 16 (-0.5 -> q -1 -> 15)
    unsigned = ValueType("fixed", bits=4, scale=0.5, rounding="floor", overflow="saturate", signed=False)
    np.testing.assert_array_equal(quantise(np.array([-3.0, 2.2, 7.5, 9.0]), unsigned), [0, 2.0, 7.5, 7.5])
    wrapped = ValueType("fixed", bits=4, scale=0.5, rounding="floor", overflow="wrap", signed=False)
    np.testing.assert_array_equal(quantise(np.array([-0.5, 8.0, 8.6]), wrapped), [7.5, 0.0, 0.5])


# ----------------------------------------------------------------------------- NaN / Inf


def test_overflow_raises_numerical_error():
    _, exe = make("""
neuron Blow:
    state v = 1
    v <- v * 1e200
    spike when v > 1e308

network n:
    layer h = Blow(3)
""")
    with pytest.raises(NumericalError) as info:
        simulate(exe, 5)
    assert (info.value.name, info.value.step_number, info.value.index) == ("h.v", 1, (0, 0))
    assert "`h.v`" in str(info.value) and "step 1" in str(info.value)
    _, exe = make("""
neuron Blow:
    state v = 1
    v <- v * 1e200
    spike when v > 1e308

network n:
    layer h = Blow(3)
""")
    exe.set("h.v", np.array([[1.0, 1.0, 1e300]]))
    with pytest.raises(NumericalError) as info:
        simulate(exe, 5)
    assert (info.value.step_number, info.value.index) == (0, (0, 2))


# ----------------------------------------------------------------------------- phases


PHASES = """
neuron P:
    state v = 0
    state a = 0
    state starts = 0
    state ends = 0
    input I
    v <- v + 1 + I
    during learn:
        a <- a + 1
        trace n: sum on spike += 1
    spike when v > 2
    at start of learn:
        starts += 1
    at end of learn:
        ends += 1

synapse S:
    state w = 0.5
    state e = 0
    on pre:
        post.I += 0
    on post:
        e += 1
        w += 0.25

network n:
    input x = regular(1)
    layer h = P(1)
    connect W: x -> h with S(dense):
        init w = 0.5
    schedule:
        phase warm(3):
            reset all
        phase learn(4):
            plastic W
"""


def test_phases_during_hooks_and_reset():
    _, exe = make(PHASES)
    data = {"x": np.zeros((1, 1))}
    out = run_sample(exe, data, ("h.v", "h.a", "h.n", "h.starts", "h.ends"))
    warm, learn = out["warm"], out["learn"]
    assert warm["h.a"].max() == 0 and warm["h.n"].max() == 0 and warm["h.starts"].max() == 0
    np.testing.assert_array_equal(learn["h.a"][:, 0, 0], [1, 2, 3, 4])          # only in `learn`
    np.testing.assert_array_equal(learn["h.v"][:, 0, 0], [4, 5, 6, 7])
    np.testing.assert_array_equal(learn["h.n"][:, 0, 0], [1, 2, 3, 4])          # v > 2 from step 3 on
    np.testing.assert_array_equal(learn["h.starts"][:, 0, 0], [1, 1, 1, 1])     # once, before step 1
    assert exe.get("h.ends")[0, 0] == 1 and learn["h.ends"].max() == 0       # once, after the last step
    assert exe.get("W.w")[0, 0] == 0.5 + 4 * 0.25 and exe.get("W.e")[0, 0] == 4
    # the next sample: `reset all` restores the whole population (hook counters included) but no
    # connection state (reset all = every population + every connection's traces)
    out = run_sample(exe, data, ("h.v", "h.starts"))
    assert out["warm"]["h.v"][0, 0, 0] == 1 and out["warm"]["h.starts"][0, 0, 0] == 0
    assert exe.get("h.starts")[0, 0] == 1 and exe.get("h.ends")[0, 0] == 1
    assert exe.get("W.w")[0, 0] == 0.5 + 8 * 0.25
    # naming the connection resets its states that no `init` sets (e), never the initialised weight
    exe.reset(frozenset({"W"}))
    assert exe.get("W.e")[0, 0] == 0 and exe.get("W.w")[0, 0] == 0.5 + 8 * 0.25


# ----------------------------------------------------------------------------- randomness


RANDOM = """
neuron Noisy:
    param p = 0.3
    state u = 0
    state z = 0
    state k = 0
    state m = 0
    state sm = 0
    state win = 0
    state mean_u = 0
    input I
    u <- uniform()
    z <- normal(1, 2)
    k <- poisson(3)
    m <- 0.9 * m + I
    sm <- softmax(4 * u)
    win <- wta(u)
    mean_u <- popmean(u)
    spike when categorical(sm) or bernoulli(p)

synapse W:
    state w = 0
    on pre:
        post.I += w

network n:
    input x = poisson(20)
    layer h = Noisy(50)
    connect C: x -> h with W(sparse(p = 0.3)):
        init w = normal(0, 0.5)
"""


def test_stochastic_functions_follow_the_rng():
    ir, exe = make(RANDOM, seed=2, batch=2)
    rec = simulate(exe, 200, {"x": np.full((2, 20), 0.2)}, ("h.u", "h.z", "h.k", "h.sm", "h.win", "h.mean_u"))
    prog = {op.var: op.expr for op in ir.neurons["Noisy"].program}
    (s_u,) = streams_of(prog["u"], F.Uniform)
    index = np.arange(2 * 50)
    np.testing.assert_array_equal(rec["h.u"][17].ravel(), rng.uniform_np(2, s_u, 17, index))
    (s_z,) = streams_of(prog["z"], F.Normal)
    np.testing.assert_allclose(rec["h.z"][5].ravel(), 1 + 2 * rng.normal_np(2, s_z, 5, index), rtol=1e-15)
    # distributions (20000 draws each; 5 sigma bounds)
    n = rec["h.u"].size
    assert abs(rec["h.z"].mean() - 1) < 5 * 2 / math.sqrt(n)
    assert abs(rec["h.k"].mean() - 3) < 5 * math.sqrt(3 / n)
    assert np.all(rec["h.k"] == np.round(rec["h.k"]))
    # population functions along the neuron axis, per batch row
    np.testing.assert_allclose(rec["h.sm"].sum(axis=-1), 1, rtol=1e-12)
    np.testing.assert_array_equal(rec["h.win"].argmax(axis=-1), rec["h.u"].argmax(axis=-1))
    np.testing.assert_array_equal(rec["h.win"].sum(axis=-1), 1)
    np.testing.assert_allclose(rec["h.mean_u"], np.broadcast_to(rec["h.u"].mean(-1, keepdims=True),
                                                                 rec["h.u"].shape), rtol=1e-12)


def test_same_seed_same_run_other_seed_other_run():
    def run(seed):
        _, exe = make(RANDOM, seed=seed, batch=2)
        rec = simulate(exe, 50, {"x": np.full((2, 20), 0.3)}, ("h.spike", "h.m", "x.spike"))
        return rec, exe.get("C.w"), exe.get("C.indices")
    a, b, c = run(1), run(1), run(2)
    for name in a[0]:
        np.testing.assert_array_equal(a[0][name], b[0][name])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0]["h.spike"], c[0]["h.spike"])
    assert not np.array_equal(a[0]["x.spike"], c[0]["x.spike"])
    assert a[1].shape != c[1].shape or not np.array_equal(a[1], c[1])


# ----------------------------------------------------------------------------- contract


def test_state_names_params_and_float32():
    ir, exe = make(LIF, dtype="float32", batch=3)
    names = exe.state_names()
    assert names[:2] == ["x.spike", "x.accumulator"] and "free.v" in names and "free.I" in names
    assert exe.get("free.v").shape == (3, 2) and exe.get("free.v").dtype == np.float32
    assert exe.get_param("biased", "I_ext") == pytest.approx(0.1e-9)
    exe.set_param("free", "v_rest", -70e-3)
    rec = simulate(exe, 3000, {"x": np.zeros((3, 1))}, ("free.v",))
    assert rec["free.v"].dtype == np.float32
    assert abs(rec["free.v"][-1, 0, 0] - (-70e-3)) < 1e-5
    with pytest.raises(KeyError):
        exe.get_param("free", "nope")
