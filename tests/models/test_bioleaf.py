"""BioLeaF (models/bioleaf.snn) against the claims it is built on.

(a) The special case: with B = W^T, the STDP window equal to the PSP kernel (the rule pairs
    the error with the presynaptic PSP trace) and the error pairs in their linear regime
    (`graded = 1`), one sample's summed STDP update equals -eta times the autograd gradient
    of the spiking error function L = 1/2 sum_t |(kappa * (yhat - s_L))(t)|^2, backpropagated
    through the layers but not through time (the state of step t-1 held fixed), with the
    surrogate derivative phi = 1[|u - V_th| < w_phi] in the hidden layer and the output spike
    passed straight through. The forward pass is an independent torch implementation of the
    equations of the model's docstring, fed the model's own input and target spike trains.
(b) A short training run on the offline MNIST subset clearly beats chance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import snnlang

MODEL = Path(__file__).resolve().parents[2] / "models" / "bioleaf.snn"

SMALL = '''
from "bioleaf.snn" import InputCell, P, ErrorPair, TargetTrain, FF, FB, Gate, Compare, Teach, Copy, Target

network small:
    param T = 30
    param eta = ETA
    input x = poisson(20)
    label y = onehot(4)
    layer p0 = InputCell(20)
    layer p1 = P(12)
    layer p2 = P(4)
    layer e1 = ErrorPair(12, graded = 1)
    layer e2 = ErrorPair(4, graded = 1)
    layer tgt = TargetTrain(4)
    connect X: x -> p0 with Copy(one_to_one)
    connect W1: p0 -> p1 with FF(dense, eta = eta):
        init w = uniform(-0.15, 0.35)
    connect W2: p1 -> p2 with FF(dense, eta = eta):
        init w = uniform(-0.2, 0.5)
    connect Y: y -> tgt with Copy(one_to_one)
    connect TG: tgt -> e2 with Target(one_to_one)
    connect C2: p2 -> e2 with Compare(one_to_one)
    connect B1: e2 -> e1 with FB(dense)
    connect G1: p1 -> e1 with Gate(one_to_one)
    connect T1: e1 -> p1.apical with Teach(one_to_one)
    connect T2: e2 -> p2.apical with Teach(one_to_one)
    readout argmax(p2.n)
    schedule:
        phase present(T):
            plastic W1, W2
            reset all
        infer present
'''

RECORD = ("p0.spike", "p1.spike", "p2.spike", "tgt.spike")


def one_sample(eta: float, seed: int = 3):
    """Run one sample (the schedule's one phase, as a free run with the same sets) and return
    the model, the weights before, their change, and the recorded spike trains."""
    model = snnlang.compile(SMALL.replace("ETA", repr(eta)), target="numba", seed=seed)
    model.set("B1.w", model.get("W2.w").T)        # the special case: B = W^T
    before = {k: model.get(f"{k}.w").copy() for k in ("W1", "W2")}
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 1.0, (1, 20))
    model.reset()
    rec = model.run(30, inputs=x, labels=1, record=RECORD)
    change = {k: model.get(f"{k}.w") - before[k] for k in ("W1", "W2")}
    return model, before, change, {k: rec[k][:, 0] for k in RECORD}


def autograd_of_spiking_error(before: dict, spikes: dict, tau_s=3.0, tau_m=5.0, v_th=1.0, w_phi=0.5):
    """-dL/dW of the equations in models/bioleaf.snn's docstring, by torch autograd (float64),
    and the spike trains this forward pass produces (which must be the model's)."""
    torch = pytest.importorskip("torch")

    class Spike(torch.autograd.Function):
        """H(u - V_th) forward; backward multiplies by `surrogate(u)`."""

        @staticmethod
        def forward(ctx, u, gated):
            ctx.save_for_backward(u)
            ctx.gated = gated
            return (u >= v_th).double()

        @staticmethod
        def backward(ctx, grad):
            (u,) = ctx.saved_tensors
            if not ctx.gated:            # the output spike: straight through
                return grad, None
            return grad * ((u - v_th).abs() < w_phi).double(), None

    W1 = torch.tensor(before["W1"], requires_grad=True)
    W2 = torch.tensor(before["W2"], requires_grad=True)
    s0_train = torch.tensor(spikes["p0.spike"])
    target = torch.tensor(spikes["tgt.spike"])
    decay = 1 - 1 / tau_s
    a0 = torch.zeros(W1.shape[1], dtype=torch.float64)
    a1, u1, s1 = (torch.zeros(W1.shape[0], dtype=torch.float64) for _ in range(3))
    a2, u2, s2 = (torch.zeros(W2.shape[0], dtype=torch.float64) for _ in range(3))
    a_t = torch.zeros(W2.shape[0], dtype=torch.float64)
    loss, produced = 0.0, {"p1.spike": [], "p2.spike": []}
    steps = len(target)
    for t in range(steps):
        a0 = decay * a0 + s0_train[t]
        u1 = (1 - 1 / tau_m) * u1.detach() * (1 - s1.detach()) + W1 @ a0    # no temporal backprop
        s1 = Spike.apply(u1, True)
        a1 = decay * a1.detach() + s1
        u2 = (1 - 1 / tau_m) * u2.detach() * (1 - s2.detach()) + W2 @ a1
        s2 = Spike.apply(u2, False)
        a2 = decay * a2.detach() + s2
        a_t = decay * a_t + target[t]
        produced["p1.spike"].append(s1.detach().numpy().copy())
        produced["p2.spike"].append(s2.detach().numpy().copy())
        if t < steps - 1:   # the error of the last step reaches the apical compartment after the sample
            loss = loss + 0.5 * ((a_t - a2) ** 2).sum()
    loss.backward()
    return {"W1": -W1.grad.numpy(), "W2": -W2.grad.numpy()}, {k: np.array(v) for k, v in produced.items()}


def test_the_sample_exercises_every_layer():
    """Guard for (a): both layers spike, the hidden derivative window is open sometimes, and
    both weight matrices change."""
    model, _, change, spikes = one_sample(1e-9)
    assert spikes["p1.spike"].sum() > 10 and spikes["p2.spike"].sum() > 3
    assert spikes["tgt.spike"].sum() == 10            # every 3rd of 30 steps, the true class
    assert all(np.abs(c).max() > 0 for c in change.values())


def test_summed_stdp_equals_autograd_of_the_spiking_error_in_the_special_case():
    eta = 1e-9
    _, before, change, spikes = one_sample(eta)
    grad, produced = autograd_of_spiking_error(before, spikes)
    # the independent forward pass produces the model's spike trains exactly (weights move by
    # at most ~1e-8 during the sample, too little to flip a threshold crossing here)
    np.testing.assert_array_equal(produced["p1.spike"], spikes["p1.spike"])
    np.testing.assert_array_equal(produced["p2.spike"], spikes["p2.spike"])
    for k in ("W1", "W2"):
        scale = np.abs(grad[k]).max()
        assert scale > 0
        # O(eta) drift of the forward pass during the sample (~1e-8 relative) and float64
        # rounding of the ~30 in-sample additions of ~1e-9 to weights of ~0.3 (~1e-7 relative)
        np.testing.assert_allclose(change[k] / eta, grad[k], rtol=0, atol=1e-6 * scale, err_msg=k)


def test_short_training_on_offline_mnist_beats_chance():
    """300 samples of the shipped 784-800-10 network, 2 epochs, 200 test digits. Chance is
    10 % (standard deviation 2.1 points with 200 samples); 30 % is 9 sigma above it
    (measured: 55-60 %)."""
    from snnlang.data import load
    train, test = load("mnist-offline", seed=0, limit=(300, 200))
    model = snnlang.compile(MODEL, target="numba", network="bioleaf", seed=0)
    model.train(train, epochs=2, progress=False)
    assert model.evaluate(test, progress=False)["accuracy"] > 0.30
