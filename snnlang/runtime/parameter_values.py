"""Parameter values that leave a derived constant without a value.

Backends evaluate parameter-only expressions once, on the host (propagators such as
exp(-dt/tau), hoisted quotients). A parameter of 0 that a model divides by, or one whose
exponential overflows, makes that evaluation raise an arithmetic exception from generated
code, which the user would read as a bug in snnc. This module turns it into one `UserError`
that names the parameters at fault and their lines, for every backend at once: the runtime
catches it where it builds a network and where it changes a parameter.
"""

from __future__ import annotations

import math
from typing import Callable

import sympy

from snnlang.errors import UserError
from snnlang.ir.model import ModelIR, NetworkIR, Var

# what float/NumPy arithmetic raises for an undefined or unrepresentable result
ARITHMETIC_ERRORS: tuple[type[BaseException], ...] = (ZeroDivisionError, OverflowError, FloatingPointError)


class ParameterValueError(UserError, ValueError):
    """The parameters' values give a derived constant no finite value (a division by 0, ...)."""


def is_arithmetic_failure(exc: BaseException) -> bool:
    """True for the exceptions that float arithmetic raises on an undefined result."""
    if isinstance(exc, UserError):
        return False
    if isinstance(exc, ARITHMETIC_ERRORS):
        return True
    # math.log(0), math.sqrt(-1) in generated host code
    return isinstance(exc, ValueError) and "math domain error" in str(exc)


def _owner_params(ir: ModelIR, net: NetworkIR) -> list[tuple[str, tuple[Var, ...], dict[str, float]]]:
    owners = []
    for pop in net.populations:
        if pop.kind == "neuron" and pop.neuron in ir.neurons:
            owners.append((pop.name, ir.neurons[pop.neuron].of_kind("param"), dict(pop.params)))
    for conn in net.connections:
        if conn.synapse in ir.synapses:
            owners.append((conn.name, ir.synapses[conn.synapse].of_kind("param"), dict(conn.params)))
    return owners


def suspect_parameters(ir: ModelIR, net: NetworkIR,
                       value_of: Callable[[str, str], float] | None = None) -> list[str]:
    """`owner.name = value (file:line)` for every parameter whose value is 0 or not finite:
    `value_of(owner, name)` where a built network can say (values set at run time included),
    else as the backends derive them: an override if the network sets one, else the default,
    in declaration order (a default may use earlier parameters and dt)."""
    found = []
    for owner, params, overrides in _owner_params(ir, net):
        values: dict[sympy.Symbol, float] = {sympy.Symbol("dt"): net.dt}
        for var in params:
            if value_of is not None:
                value = _live_value(value_of, owner, var.name)
            elif var.name in overrides:
                value = float(overrides[var.name])
            else:
                try:
                    value = float(var.init.subs(values))
                except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                    value = math.nan      # a default that itself has no value is a suspect too
            values[sympy.Symbol(var.name)] = value
            if value == 0 or not math.isfinite(value):
                where = f" ({var.origin})" if var.origin else ""
                found.append(f"`{owner}.{var.name}` = {value:g}{where}")
    return found


def _live_value(value_of: Callable[[str, str], float], owner: str, name: str) -> float:
    try:
        return float(value_of(owner, name))
    except Exception:       # noqa: BLE001 - a backend that cannot say: treat it as a suspect
        return math.nan


def undefined_constants(exc: BaseException, ir: ModelIR, network: str, target: str,
                        changed: str | None = None, running: bool = False,
                        value_of: Callable[[str, str], float] | None = None) -> ParameterValueError:
    """The error to raise instead of `exc`, an arithmetic failure while deriving constants."""
    net = ir.networks[network]
    what = (f"setting {changed}" if changed else
            f"{'running' if running else 'building'} network `{network}` on {target}")
    suspects = suspect_parameters(ir, net, value_of)
    lines = [f"{what}: a constant derived from the parameters has no value "
             f"({type(exc).__name__}: {exc})."]
    if suspects:
        lines.append("Parameters that are 0 or not finite: " + ", ".join(suspects) + ".")
    lines.append("A parameter the model divides by (a time constant, a capacitance) or takes the "
                 "log of must not be 0; give it a positive value in the model or with set_param.")
    if changed:
        lines.append("The previous value was kept.")
    return ParameterValueError(" ".join(lines))
