"""BPTT mode of the torch backend: `snnlang.compile(..., target="torch", learning="bptt")`.

* the gradient through time equals finite differences of the loss, on a tiny two-layer network
  (dense and sparse connections) whose spikes are the smooth sigmoid surrogate in the forward
  pass too (`relaxed=True`), in float64; the straight-through spike has exactly the
  surrogate's derivative;
* one epoch on a small digits set (sklearn's 8x8 digits, offline, upscaled to 28x28) lowers the
  loss of models/biograd.snn's `biograd` network (784-500-500-10);
* user errors get one message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import snnlang
from snnlang.errors import UserError
from snnlang.runtime.model import Dataset
from snnlang_backends.torch import ops
from snnlang_backends.torch.plan import BuildError

ROOT = Path(__file__).resolve().parents[2]

TWO_LAYERS = """
neuron Cell:
    \"\"\"Leaky current, membrane with BioGrad's multiplicative reset, spike count.\"\"\"
    param theta = 0.5
    state c = 0
    state v = 0
    input I
    c <- 0.5 * c + I
    v <- 0.75 * v * (1 - spike) + c
    spike when v > theta
    trace n: sum on spike += 1

synapse W:
    param lr = 0.01
    state w = 0
    on pre:
        post.I += w
    on post:
        w += lr * pre.spike

network two_layers:
    input x = poisson(6)
    layer h = Cell(5)
    layer o = Cell(3)
    connect W1: x -> h with W(dense):
        init w = uniform(-1, 1)
    connect W2: h -> o with W(dense):
        init w = uniform(-0.5, 1.5)
    connect S: x -> o with W(sparse(p = 0.5)):
        init w = uniform(-0.5, 0.5)
    readout argmax(o.n)
    schedule:
        phase forward(8):
            plastic W1, W2, S
            reset all
        infer forward
"""


def _two_layers(**options):
    return snnlang.compile(TWO_LAYERS, target="torch", learning="bptt", seed=3, batch=4, **options)


def test_gradient_through_time_matches_finite_differences():
    model = _two_layers(surrogate="sigmoid", surrogate_width=0.25, relaxed=True)
    trainer = model.trainer
    assert trainer.names == ["W1.w", "W2.w", "S.w"]
    rng = np.random.default_rng(0)
    data = {"x": rng.uniform(0.2, 1.0, (4, 6))}
    labels = np.array([0, 1, 2, 1])

    def loss() -> torch.Tensor:
        model.exe.step = 0                 # the same random draws in every evaluation
        return trainer.loss(data, labels)

    value = loss()
    value.backward()
    grads = {name: p.grad.clone() for name, p in trainer.params.items()}
    trainer.release()
    assert all(bool(g.abs().sum() > 0) for g in grads.values())
    eps = 1e-6
    for name, p in trainer.params.items():
        fd = torch.zeros_like(p)
        with torch.no_grad():
            for index in np.ndindex(*p.shape):
                p[index] += eps
                up = loss().item()
                p[index] -= 2 * eps
                down = loss().item()
                p[index] += eps
                fd[index] = (up - down) / (2 * eps)
                trainer.release()
        # central differences: truncation eps^2 f''' ~ 1e-12, cancellation 1e-16 / eps ~ 1e-10
        np.testing.assert_allclose(grads[name].numpy(), fd.numpy(), rtol=1e-6, atol=1e-8, err_msg=name)


def test_the_spike_is_a_step_with_the_surrogate_derivative():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    for kind in ops.Surrogate.KINDS:
        s = ops.Surrogate(kind, 0.5)
        y = ops.spike(x, s)
        assert torch.equal(y.detach(), (x > 0).to(x.dtype))
        (grad,) = torch.autograd.grad(y.sum(), x)
        torch.testing.assert_close(grad, s.derivative(x.detach()))
        # each surrogate is the derivative of a step from 0 to 1: it integrates to 1
        fine = torch.linspace(-60, 60, 240001, dtype=torch.float64)
        assert abs(float(torch.trapezoid(s.derivative(fine), fine)) - 1.0) < 2e-2
    y = ops.spike(torch.zeros(1, dtype=torch.float64, requires_grad=True), ops.Surrogate(), inclusive=True)
    assert float(y.detach()) == 1.0


def test_a_declared_surrogate_is_used_unless_the_trainer_is_told_one():
    """`surrogate rectangular(width = w)` in the neuron: the gradient through its spike is
    1[|v - theta| < w] / (2 w) of the step's v, so with a tiny w no spike passes gradient and
    W1 gets none; an explicit `surrogate=` option overrides the declaration."""
    declared = TWO_LAYERS.replace("    spike when v > theta\n",
                                  "    spike when v > theta\n    surrogate rectangular(width = w_s)\n")
    declared = declared.replace("    param theta = 0.5\n", "    param theta = 0.5\n    param w_s = 1e-9\n")
    rng = np.random.default_rng(0)
    data, labels = {"x": rng.uniform(0.2, 1.0, (4, 6))}, np.array([0, 1, 2, 1])

    def w1_gradient(**options) -> float:
        model = snnlang.compile(declared, target="torch", learning="bptt", seed=3, batch=4, **options)
        model.trainer.loss(data, labels).backward()
        grad = float(model.trainer.params["W1.w"].grad.abs().sum())
        model.trainer.release()
        return grad

    assert w1_gradient() == 0.0                              # the declared window is closed
    assert w1_gradient(surrogate="fast_sigmoid") > 0.0       # the option wins
    source = __import__("snnlang_backends.torch", fromlist=["source"]).source
    from snnlang.ir.lower import lower
    from snnlang.semantics.checker import check_text
    assert "or_declared('rectangular'" in source(lower(check_text(declared)), "two_layers", mode="bptt")


def _digits(n: int, offset: int = 0) -> Dataset:
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = np.kron(digits.images[offset:offset + n] / 16.0, np.ones((1, 3, 3)))   # 8x8 -> 24x24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2))).reshape(n, 784)             # -> 28x28
    return Dataset(images, digits.target[offset:offset + n])


def test_one_epoch_on_digits_lowers_the_loss_of_biograd():
    # fast_sigmoid, not the rectangular window biograd.snn declares: gradient also far from threshold
    model = snnlang.compile(ROOT / "models" / "biograd.snn", target="torch", network="biograd", batch=32,
                            seed=1, learning="bptt", lr=2e-3, surrogate="fast_sigmoid")
    assert {"W1.w", "W2.w", "W3.w", "b1.w"} <= set(model.trainer.names)
    held_out = _digits(64, offset=1500)

    def held_out_loss() -> float:
        with torch.no_grad():
            value = np.mean([model.trainer.loss({"x": held_out.x[k:k + 32]}, held_out.y[k:k + 32]).item()
                             for k in (0, 32)])
        model.trainer.release()
        return float(value)

    before = held_out_loss()
    w1 = model.get("W1.w")
    history = model.train(_digits(320), epochs=1, progress=False)
    after = held_out_loss()
    assert history[0]["samples"] == 320 and np.isfinite(history[0]["loss"])
    assert after < 0.8 * before, f"held-out loss {before:.3f} -> {after:.3f}"
    assert not np.array_equal(model.get("W1.w"), w1)           # the weights the trainer changed are the model's
    accuracy = model.evaluate(held_out, progress=False)["accuracy"]   # inference by the exact executable
    assert 0.0 <= accuracy <= 1.0


def test_user_errors_get_one_message():
    with pytest.raises(UserError, match="target='torch'"):
        snnlang.compile(TWO_LAYERS, target="reference", learning="bptt")
    with pytest.raises(BuildError, match="`local`.*`bptt`"):
        snnlang.compile(TWO_LAYERS, target="torch", learning="hebb", device="cpu")
    with pytest.raises(BuildError, match="loss="):
        _two_layers(loss="hinge")
    with pytest.raises(BuildError, match="optimizer="):
        _two_layers(optimizer="lbfgs2")
    with pytest.raises(BuildError, match="surrogate="):
        _two_layers(surrogate="triangle")
    with pytest.raises(BuildError, match="readout `argmax"):
        snnlang.compile(TWO_LAYERS.replace("readout argmax(o.n)", "readout o.n"), target="torch",
                        learning="bptt", device="cpu")
    with pytest.raises(BuildError, match="no connection is plastic"):
        snnlang.compile(TWO_LAYERS.replace("plastic W1, W2, S", "plastic none"), target="torch",
                        learning="bptt", device="cpu")
