"""Network parameters at runtime: `param lr = 1e-3` in a network, changed without recompiling.

A network parameter reaches the running model in two ways: parameter overrides written in
terms of it (`with FF(dense, lr = lr * T_b / (T_b - 2))`) and phase lengths or periods
(`phase sleep(T_s) every N_s samples`). The IR keeps both as expressions over the parameters'
symbols (`PopulationIR.param_exprs`, `ConnectionIR.param_exprs`, `PhaseIR.steps_expr`,
`PhaseIR.every_expr`); setting a network parameter re-derives them and pushes the overrides
into the executable. What depends on it at compile time (a population size, an encoder
option, a delay, an `init` expression, the readout, a metric) cannot change: setting such a
parameter is an error that says where it is used.
"""

from __future__ import annotations

from dataclasses import replace

import sympy

from snnlang.errors import UserError
from snnlang.ir.model import NetworkIR, PhaseIR
from snnlang.runtime.executable import Executable


class NetworkParams:
    """The current values of one network's parameters and the phases they shape."""

    def __init__(self, network: NetworkIR) -> None:
        self.network = network
        self.values: dict[str, float] = dict(network.params)
        self.phases: tuple[PhaseIR, ...] = network.schedule.phases if network.schedule else ()

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> float:
        return self.values[name]

    def set(self, name: str, value: float, exe: Executable) -> None:
        """Change `name` and everything written in terms of it (overrides, phase lengths)."""
        if name not in self.values:
            raise KeyError(name)
        if name in self.network.structural:
            raise UserError(f"network `{self.network.name}`: `{name}` sets something fixed at compile time "
                            "(a population size, an encoder option, a delay, an `init` expression, the "
                            "readout or a metric); change it in the model file and compile again")
        old = self.values[name]
        self.values[name] = float(value)
        try:
            phases = tuple(self._phase(p) for p in self.phases)
        except UserError:
            self.values[name] = old
            raise
        self.phases = phases
        symbol = sympy.Symbol(name)
        for owner in (*self.network.populations, *self.network.connections):
            for param, expr in owner.param_exprs:
                if symbol in expr.free_symbols:
                    exe.set_param(owner.name, param, self._evaluate(expr))

    def restore(self, values: dict[str, float], exe: Executable) -> None:
        """Set every parameter of a checkpoint (overrides included) in declaration order."""
        for name, value in values.items():
            if name in self.values and value != self.values[name]:
                self.set(name, value, exe)

    def _evaluate(self, expr: sympy.Expr) -> float:
        return float(expr.subs({sympy.Symbol(n): v for n, v in self.values.items()}))

    def _phase(self, phase: PhaseIR) -> PhaseIR:
        steps, every = phase.steps, phase.every
        if phase.steps_expr is not None:
            exact = self._evaluate(phase.steps_expr)
            steps = int(round(exact))
            if steps < 0 or abs(exact - steps) > 1e-6:
                raise UserError(f"phase `{phase.name}` would last {exact:g} steps; a phase length must be a "
                                "whole number of steps, at least 0")
        if phase.every_expr is not None:
            exact = self._evaluate(phase.every_expr)
            every = int(round(exact))
            if every < 1 or abs(exact - every) > 1e-6:
                raise UserError(f"phase `{phase.name}` would run every {exact:g} samples; the period must "
                                "be a whole number of samples, at least 1")
        return replace(phase, steps=steps, every=every)
