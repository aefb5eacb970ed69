"""Building Python source for the torch backend: the shared builder (backends/codegen.py) with
the names a generated torch module reserves."""

from __future__ import annotations

from ..codegen import INDENT, Code, identifier, where
from ..codegen import NameTable as _NameTable

__all__ = ["INDENT", "Code", "NameTable", "identifier", "where"]


class NameTable(_NameTable):
    """Unique local names of a generated torch function."""

    RESERVED = _NameTable.RESERVED | {"torch", "numpy", "math", "ops", "S", "K", "X", "G", "DT", "B", "step",
                                      "seed", "phase", "A", "P", "D", "R", "Q", "t", "k", "n_steps"}
