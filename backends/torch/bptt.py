"""Surrogate-gradient backpropagation through time of the same network: the "backprop"
baseline that a local learning rule is compared with.

`snnlang.compile(model, target="torch", learning="bptt", loss=..., optimizer=..., lr=...)`
gives a Model whose `train` uses a `BPTTTrainer` instead of the model's own plasticity:
  * the network is the same: the same neurons, sizes, encoders, connections, readout and random
    draws; the forward pass is the schedule's `infer` phases (e.g. a `forward` phase), run by a
    second generated module (`mode="bptt"`) that differs from the executable's only where
    gradients need it (gen_populations.py): a spike `v > theta` is a step forward and has the
    surrogate derivative backward (ops.Surrogate), and event-masked additions (`on spike += 1`)
    are products with the spike, so gradients reach the spike counts;
  * the local rules are ignored: no phase is plastic, and periodic phases (e.g. a sleep phase) do
    not run;
  * the logits are the argument of the readout's argmax (e.g. the output spike counts
    `out.n`), the loss is cross-entropy on them by default (`loss="mse"`, or any callable
    (logits, labels) -> scalar), the optimiser a torch one (`"adam"`, `"sgd"`, or a class);
  * what is trained are the states the plasticity would write: the per-pair states assigned by
    a learning statement of a connection that some phase makes plastic (weights, biases); a tied
    state follows its original (its gradient flows into the original through the tie). A
    fixed-point weight is trained in float with straight-through quantisation and re-quantised
    after each optimiser step.
Data parallel (distributed=True under torchrun): each process computes the gradient of its
rows' share of the loss (sum over its rows / rows of the combined batch) and the gradients are
all-reduced, so every process takes the same optimiser step as one process with the combined
batch would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy
import torch

from snnlang.runtime.executable import NumericalError, PhaseRun

from . import ops
from .plan import BuildError

LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "adamw": "AdamW", "rmsprop": "RMSprop"}
SETTINGS = ("loss", "optimizer", "lr", "surrogate", "surrogate_width", "relaxed")


@dataclass(frozen=True)
class BPTTSettings:
    loss: str | Callable = "cross_entropy"
    optimizer: str | type = "adam"
    lr: float = 1e-3
    surrogate: str | None = None    # None: each neuron's declared surrogate, else fast_sigmoid
    surrogate_width: float | None = None
    relaxed: bool = False           # smooth forward pass (gradient checks), see ops.Surrogate

    @classmethod
    def from_options(cls, extra: dict) -> "BPTTSettings":
        given = {k: extra[k] for k in SETTINGS if k in extra and extra[k] is not None}
        s = cls(**given)
        if not callable(s.loss) and s.loss not in LOSSES:
            raise BuildError(f"loss={s.loss!r}: use one of {', '.join(LOSSES)} or a function (logits, labels) -> loss")
        if isinstance(s.optimizer, str) and s.optimizer.lower() not in OPTIMIZERS:
            raise BuildError(f"optimizer={s.optimizer!r}: use one of {', '.join(OPTIMIZERS)} or a torch.optim class")
        if s.surrogate is not None and s.surrogate not in ops.Surrogate.KINDS:
            raise BuildError(f"surrogate={s.surrogate!r}: use one of {', '.join(ops.Surrogate.KINDS)}")
        if not (float(s.lr) > 0 and math.isfinite(float(s.lr))):
            raise BuildError(f"lr={s.lr!r}: the learning rate must be a positive number")
        if s.surrogate_width is not None and not float(s.surrogate_width) > 0:
            raise BuildError(f"surrogate_width={s.surrogate_width!r} must be positive")
        return s


def trained_states(exe) -> list[str]:
    """The states BPTT trains: those the plasticity of a plastic connection writes (not ties)."""
    net = exe.ir.networks[exe.network_name]
    if net.schedule is None:
        plastic = {c.name for c in net.connections}
    else:
        plastic = set().union(*[p.plastic for p in net.schedule.phases])
    out = []
    for c in net.connections:
        if c.name not in plastic:
            continue
        syn = exe.ir.synapses[c.synapse]
        tied = c.tie.var if c.tie else None
        kinds = {v.name: v.kind for v in syn.vars}
        for h in syn.handlers:
            for a in h.learning:
                name = f"{c.name}.{a.target}"
                if a.target != tied and kinds.get(a.target) == "state" and name not in out:
                    out.append(name)
    return out


class BPTTTrainer:
    """Trains the executable's weights by BPTT through the `infer` phases (module docstring)."""

    def __init__(self, exe, settings: BPTTSettings) -> None:
        from . import load_module
        self.exe = exe
        self.settings = settings
        self.net = exe.ir.networks[exe.network_name]
        if self.net.schedule is None:
            raise BuildError(f"learning='bptt' needs a schedule in network `{self.net.name}` (its `infer` phases "
                             "are the forward pass)")
        self.phases = [p for p in self.net.schedule.phases if p.every is None and p.name in self.net.schedule.infer]
        if not self.phases:
            raise BuildError(f"network `{self.net.name}`: no per-sample phase is listed in `infer`, so BPTT has no "
                             "forward pass")
        self.logits_of = self._readout()
        self.module = load_module(exe.ir, exe.network_name, "bptt")
        self.names = trained_states(exe)
        if not self.names:
            raise BuildError(f"network `{self.net.name}`: no connection is plastic in any phase, so BPTT has no "
                             "weights to train")
        explicit = settings.surrogate is not None or settings.surrogate_width is not None
        self.surrogate = ops.Surrogate(settings.surrogate or "fast_sigmoid",
                                       0.5 if settings.surrogate_width is None else float(settings.surrogate_width),
                                       bool(settings.relaxed), explicit)
        self.params = {name: torch.nn.Parameter(exe.S[name].detach().clone()) for name in self.names}
        self.optimizer = self._optimizer()

    # ------------------------------------------------------------ construction

    def _readout(self):
        readout = self.net.readout
        if readout is None or not (isinstance(readout, sympy.Function) and type(readout).__name__ == "argmax"):
            raise BuildError(f"network `{self.net.name}`: learning='bptt' needs a readout `argmax(...)`; its argument "
                             "(e.g. the output spike counts) gives the logits of the loss")
        expr = readout.args[0]
        symbols = sorted(expr.free_symbols, key=lambda s: s.name)
        fn = sympy.lambdify(symbols, expr, modules="torch")
        names = [s.name for s in symbols]
        return lambda exe: fn(*[exe.tensor(n) for n in names])

    def _optimizer(self):
        opt = self.settings.optimizer
        cls = getattr(torch.optim, OPTIMIZERS[opt.lower()]) if isinstance(opt, str) else opt
        return cls(list(self.params.values()), lr=float(self.settings.lr))

    # ------------------------------------------------------------ the forward pass

    def _install(self) -> None:
        """The parameters are the executable's weight tensors (a `set` in between is taken over)."""
        S = self.exe.S
        with torch.no_grad():
            for name, p in self.params.items():
                if S[name] is not p:
                    p.copy_(S[name])
                    S[name] = p

    def release(self) -> None:
        """Cut the executable's states loose from the autograd graph of the last forward pass (after
        a `loss` that the caller differentiated itself; `train_batch` does it)."""
        S = self.exe.S
        for name, t in S.items():
            if name not in self.params:
                S[name] = t.detach()
        for c, q in self.exe.Q.items():
            self.exe.Q[c] = [(when, var, amount.detach()) for when, var, amount in q]

    def forward(self, data: dict) -> torch.Tensor:
        """The logits (batch, classes) after the `infer` phases on `data` ({input: array},
        batched), differentiable with respect to the trained weights."""
        exe = self.exe
        self._install()
        exe.G.surrogate = self.surrogate
        for phase in self.phases:
            if phase.reset_all:
                exe.reset(None)
            elif phase.reset:
                exe.reset(phase.reset)
            exe.run_differentiable(self.module, PhaseRun(phase.name, phase.steps, phase.active, frozenset(), data))
        return self.logits_of(exe)

    def loss(self, data: dict, labels, real: int | None = None) -> torch.Tensor:
        """The loss of the first `real` rows (all by default); with data parallelism, this process's
        share of the combined batch's mean loss."""
        logits = self.forward(data)
        labels = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=logits.device)
        real = logits.shape[0] if real is None else int(real)
        logits, labels = logits[:real], labels[:real]
        R = self.exe.R
        total = R.all_sum(torch.tensor(float(real), device=logits.device)).item() if R.world > 1 else float(real)
        fn = self.settings.loss
        if callable(fn):
            return fn(logits, labels) * (real / total)
        if fn == "cross_entropy":
            per_row = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
        else:
            target = torch.nn.functional.one_hot(labels, logits.shape[-1]).to(logits.dtype)
            per_row = ((logits - target) ** 2).mean(-1)
        return per_row.sum() / total

    # ------------------------------------------------------------ one optimiser step

    def train_batch(self, data: dict, labels, real: int) -> float:
        """One optimiser step on a batch (the first `real` rows are real samples); returns the loss
        of the combined batch."""
        exe = self.exe
        self.optimizer.zero_grad(set_to_none=True)
        with exe.cpu_threads():
            return self._step(data, labels, real)

    def _step(self, data: dict, labels, real: int) -> float:
        exe = self.exe
        try:
            loss = self.loss(data, labels, real)
            if not bool(torch.isfinite(loss)):
                raise NumericalError("loss", exe.step, ())
            loss.backward()
            R = exe.R
            for name, p in self.params.items():
                if p.grad is None:
                    continue
                if R.world > 1:
                    p.grad = R.all_sum(p.grad)
                bad = ~torch.isfinite(p.grad)
                if bool(bad.any()):
                    raise NumericalError(f"gradient of {name}", exe.step, tuple(int(i) for i in torch.nonzero(bad)[0]))
            self.optimizer.step()
            with torch.no_grad():
                for name, p in self.params.items():
                    if exe.states[name][6] is not None:         # fixed point: back onto its grid
                        p.copy_(exe._quantised(exe.states[name], p.detach()))
            value = loss.detach()
            return float(R.all_sum(value)) if R.world > 1 else float(value)
        finally:
            self.release()


def make_trainer(exe, learning: str, extra: dict) -> BPTTTrainer:
    if learning != "bptt":
        raise BuildError(f"learning={learning!r}: the torch backend trains by `local` (the model's own rules) or "
                         "`bptt` (surrogate-gradient backpropagation through time)")
    return BPTTTrainer(exe, BPTTSettings.from_options(extra))
