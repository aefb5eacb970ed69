"""Building Python source for the numba backend: the shared builder (backends/codegen.py) with
numba's reserved names, and the kernel table that defines identical kernels once."""

from __future__ import annotations

from dataclasses import dataclass

from ..codegen import INDENT, identifier, where
from ..codegen import Code as _Code
from ..codegen import NameTable as _NameTable

__all__ = ["INDENT", "Code", "Kernel", "KernelTable", "NameTable", "decorator", "identifier", "where"]

# Kernels are compiled as part of the three njit entry points that call them (`_run`, `_init`,
# `_hooks`; register_jitable): as njit functions of their own numba would generate their machine
# code twice (once alone, once inside the caller), and compiling is what a first run waits for.
KERNEL = "@register_jitable"


def decorator(role: str) -> str:
    return KERNEL


class Code(_Code):
    """Lines of a generated numba module (tags at column 72: its kernels nest deeper)."""

    comment_column = 72


class NameTable(_NameTable):
    """Unique local names of a generated njit function."""

    RESERVED = _NameTable.RESERVED | {"numpy", "math", "njit", "range", "abs", "min", "max", "len", "step",
                                      "seed", "phase", "consts", "bad", "t"}


@dataclass
class Kernel:
    """One generated njit function, before it gets its name.

    `text` has `def __KERNEL__(`; `params` are its parameters with what a caller passes:
    ("ctx", "step") a value of the calling context (phase, step, seed, ...), ("consts", owner) the
    owner's block of the constants vector, ("array", name) a module array, ("lit", code) a literal.
    Owners of the same type produce the same text: the module defines it once (`KernelTable`)."""

    base: str
    text: str
    params: list[tuple[str, tuple[str, str]]]

    def call(self, name: str, render) -> str:
        return f"{name}({', '.join(render(actual) for _, actual in self.params)})"


class KernelTable:
    """Kernel texts -> unique function names; identical texts share one function."""

    def __init__(self) -> None:
        self.by_text: dict[str, str] = {}
        self.taken: set[str] = set()
        self.sources: list[str] = []

    def define(self, kernel: Kernel) -> str:
        if kernel.text in self.by_text:
            return self.by_text[kernel.text]
        name, n = kernel.base, 2
        while name in self.taken:
            name, n = f"{kernel.base}_{n}", n + 1
        self.taken.add(name)
        self.by_text[kernel.text] = name
        self.sources.append(kernel.text.replace("__KERNEL__", name))
        return name
