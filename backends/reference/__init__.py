"""The reference executor: plain NumPy, written for clarity, the oracle of every other backend.

    from snnlang_backends.reference import build
    exe = build(model_ir, "net", Options(seed=1, batch=2))
    exe.run_phase(PhaseRun("train", 20, None, frozenset({"W"}), {"x": intensities}, ("out.v",)))

Modules, one idea each:
  evaluate     sympy IR expression -> NumPy function (lambdified once, at build), `Domain`
  functions    NumPy implementations of the IR built-ins (RNG-based and population ones too)
  fixed        fixed-point quantisation
  slots        storage of one variable (writes, rounding, tie views) and parameter tables
  statements   assignment operators, phase filters
  neurons      a neuron population and its step
  encoders     input and label populations
  layouts      dense / one_to_one / sparse (CSR) pair layouts
  connections  transmission, delays, synapse traces, learning with batch reduction, ties, init
  executable   the `Executable`: state names, get/set, params, reset, run_phase, NaN check
The semantics are those of docs/_ir_notes.md and snnlang/ir/model.py; where those leave a
choice open, the module docstrings say what the reference does.
"""

from __future__ import annotations

from snnlang.ir.model import ModelIR
from snnlang.runtime.executable import Options

from .errors import BuildError
from .executable import ReferenceExecutable


def build(model: ModelIR, network: str, options: Options | None = None) -> ReferenceExecutable:
    """An `Executable` (snnlang/runtime/executable.py) for `network` of `model`."""
    return ReferenceExecutable(model, network, options or Options())


__all__ = ["build", "BuildError", "ReferenceExecutable"]
