"""SSNN-BP (models/ssnn_bp.snn) against the claims it is built on.

The equivalent ANN: the same 2-layer network with stochastic binary hidden units
s1 ~ Bernoulli(f(m)), m = W1 s0 + b1, f the hard sigmoid, a softmax output and the
cross-entropy loss, trained by the straight-through gradient (ds1/dm := f'(m)). Its expected
gradient is computed here exactly, by enumerating the hidden states of a 3-unit layer.
With binary inputs (s0 = x exactly) and the hidden layer inside the linear part of the hard
sigmoid, the SSNN-BP update is an unbiased estimate of it per step:
  W2 (and b2): -dw s1 (g+ - g-), E[g+ - g- | s1] = softmax(W2 s1 + b2) - y
  W1 (and b1): -dw s0 (G+ - G-), E[G+ - G- | h] = f'(m) h,  h = W2^T (g+ - g-)
(the hidden gradient runs one step behind the forward pass, so a sample of T steps has T - 1
hidden updates).
(a) Averaged over many samples, the per-sample weight change equals that expected gradient.
(b) The error of one sample's update shrinks like 1/sqrt(T).
(c) A short training run on the offline MNIST subset beats chance.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

import snnlang

MODEL = Path(__file__).resolve().parents[2] / "models" / "ssnn_bp.snn"

TINY = '''
from "ssnn_bp.snn" import InputCell, Composite, WTAOut, Coinc, CoincPipelined, Back, Copy, Label

network tiny:
    param T = STEPS
    param eta = 1e-6
    input x = bernoulli(6)
    input one = bernoulli(1, p = 1)
    label y = onehot(3)
    layer in0 = InputCell(6)
    layer hid = Composite(3)
    layer out = WTAOut(3)
    connect X: x -> in0 with Copy(one_to_one)
    connect W1: in0 -> hid.fwd with CoincPipelined(dense, dw = eta / T, lam = 0, T_steps = T)
    connect b1: one -> hid.fwd with Coinc(dense, dw = eta / T, lam = 0, T_steps = T)
    connect W2: hid -> out with Coinc(dense, dw = eta / T, lam = 0, T_steps = T)
    connect b2: one -> out with Coinc(dense, dw = eta / T, lam = 0, T_steps = T)
    connect Y: y -> out with Label(one_to_one)
    connect W2T: out -> hid.grad with Back(dense):
        tie w = transpose(W2.w)
    readout argmax(out.n)
    schedule:
        phase present(T):
            plastic W1, b1, W2, b2
            reset all
        infer present
'''

X = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])     # binary: the input spikes are exactly x
LABEL = 1
W1 = np.array([[0.3, 0.5, -0.1, 0.2, 0.4, 0.1],
               [-0.2, 0.1, 0.25, 0.1, -0.3, 0.3],
               [0.1, -0.4, 0.1, 0.2, 0.2, 0.05]])
B1 = np.array([[0.05], [0.1], [-0.05]])          # m = W1 x + b1 = 0.55, 0.55, 0.40: linear part
W2 = np.array([[0.3, -0.2, 0.1], [-0.1, 0.25, 0.2], [0.2, 0.1, -0.3]])   # |h| <= 0.6 < gamma = 1
B2 = np.array([[0.1], [-0.1], [0.0]])
PARAMS = ("W1", "b1", "W2", "b2")


def expected_update(steps: int) -> dict[str, np.ndarray]:
    """E[Delta w] / eta of one sample, from the equivalent ANN by enumeration of s1."""
    m = W1 @ X + B1[:, 0]
    assert np.all((m > 0) & (m < 1)), "the hidden layer must sit in the linear part: f(m) = m, f' = 1"
    y = np.eye(3)[LABEL]
    g_w2, g_b2, e_err = np.zeros((3, 3)), np.zeros(3), np.zeros(3)
    for bits in itertools.product((0.0, 1.0), repeat=3):
        s1 = np.array(bits)
        prob = np.prod(np.where(s1 == 1, m, 1 - m))
        z = W2 @ s1 + B2[:, 0]
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        g_w2 += prob * np.outer(p - y, s1)
        g_b2 += prob * (p - y)
        e_err += prob * (p - y)
    h = W2.T @ e_err                                  # E[h] = W2^T E[p - y]
    hidden = (steps - 1) / steps                      # the pipelined hidden updates
    return {"W2": -g_w2, "b2": -g_b2[:, None], "W1": -hidden * np.outer(h, X), "b1": -hidden * h[:, None]}


def per_sample_updates(steps: int, samples: int, seed: int = 5) -> dict[str, np.ndarray]:
    """(samples, *shape) arrays of Delta w / eta, one per sample; the weights are put back
    after each sample, so every sample starts from the same network (its random draws differ:
    they depend on the global step counter)."""
    model = snnlang.compile(TINY.replace("STEPS", str(steps)), target="numba", seed=seed)
    start = {"W1": W1, "b1": B1, "W2": W2, "b2": B2}
    eta = model.get_param("tiny", "eta")
    out = {k: [] for k in PARAMS}
    one = snnlang.Dataset(X[None], np.array([LABEL]))
    for _ in range(samples):
        for k in PARAMS:
            model.set(f"{k}.w", start[k])
        model.train(one, epochs=1, shuffle=False, progress=False)
        for k in PARAMS:
            out[k].append((model.get(f"{k}.w") - start[k]) / eta)
    return {k: np.array(v) for k, v in out.items()}


def test_expected_update_equals_the_equivalent_ann_gradient():
    """400 samples of T = 64 steps. Each element's sample mean is compared with the exact
    expectation in units of its standard error: |z| < 4.5 for all 33 elements bounds the
    chance of a false alarm by 33 * 6.8e-6 = 2e-4 (the 6 weights of silent inputs must not move) (the draws are deterministic for the seed,
    so the test cannot flake; the bound says how unlikely a pass would be were it wrong)."""
    steps, samples = 64, 400
    updates = per_sample_updates(steps, samples)
    expected = expected_update(steps)
    for k in PARAMS:
        mean = updates[k].mean(axis=0)
        sem = updates[k].std(axis=0, ddof=1) / np.sqrt(samples)
        silent = sem == 0                  # weights of inputs that never spike (x_i = 0): no update
        np.testing.assert_array_equal(mean[silent], 0.0)
        np.testing.assert_array_equal(expected[k][silent], 0.0)
        z = (mean[~silent] - expected[k][~silent]) / sem[~silent]
        assert np.all(np.abs(z) < 4.5), (k, z)
        # and the expectation is resolved, not just noise: the signal is several standard errors
    assert np.abs(expected["W2"]).max() / updates["W2"].std(axis=0).max() * np.sqrt(samples) > 5


def test_update_error_shrinks_like_one_over_sqrt_t():
    """RMS deviation of one sample's update from its expectation for T = 16, 64, 256 (100
    samples each): the log-log slope is -1/2 for a sum of T independent per-step estimates
    (stateless hidden units, alpha = 0). Measured slope: about -0.5; allowed: -0.5 +- 0.1."""
    sizes = (16, 64, 256)
    rms = []
    for steps in sizes:
        updates = per_sample_updates(steps, 100)
        expected = expected_update(steps)
        err = np.concatenate([(updates[k] - expected[k]).reshape(len(updates[k]), -1) for k in PARAMS], axis=1)
        rms.append(np.sqrt(np.mean(err ** 2)))
    slope = np.polyfit(np.log(sizes), np.log(rms), 1)[0]
    assert -0.6 < slope < -0.4, (slope, rms)


def test_short_training_on_offline_mnist_beats_chance():
    """300 samples of the shipped 784-500-10 network (T = 100), 2 epochs, 200 test digits.
    Chance is 10 % (standard deviation 2.1 points with 200 samples); 30 % is 9 sigma above it
    (measured: 70-76 %)."""
    from snnlang.data import load
    train, test = load("mnist-offline", seed=0, limit=(300, 200))
    model = snnlang.compile(MODEL, target="numba", network="ssnn_bp", seed=0)
    model.train(train, epochs=2, progress=False)
    assert model.evaluate(test, progress=False)["accuracy"] > 0.30
