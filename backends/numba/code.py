"""Building Python source: indented lines with `.snn` origin comments, and unique identifiers."""

from __future__ import annotations

import keyword
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath

from snnlang.diagnostics import Span

INDENT = "    "
COMMENT_COLUMN = 72

# Kernels are compiled as part of the three njit entry points that call them (`_run`, `_init`,
# `_hooks`; register_jitable): as njit functions of their own numba would generate their machine
# code twice (once alone, once inside the caller), and compiling is what a first run waits for.
KERNEL = "@register_jitable"


def decorator(role: str) -> str:
    return KERNEL


def where(origin: Span | None) -> str | None:
    """`file.snn:LINE` of an IR origin (the file's base name, so the text does not depend on the
    checkout's location)."""
    if origin is None:
        return None
    return f"{PurePath(origin.file).name}:{origin.line}"


class Code:
    """Lines of Python; `line(text, origin)` appends `# file.snn:LINE` when the IR knows where
    the statement came from."""

    def __init__(self, level: int = 0) -> None:
        self.lines: list[str] = []
        self.level = level

    def line(self, text: str = "", origin: Span | str | None = None) -> None:
        if not text:
            self.lines.append("")
            return
        out = INDENT * self.level + text
        tag = origin if isinstance(origin, str) else where(origin)
        if tag:
            out = out.ljust(COMMENT_COLUMN) + "  # " + tag if len(out) < COMMENT_COLUMN else out + "  # " + tag
        self.lines.append(out)

    def comment(self, text: str, origin: Span | None = None) -> None:
        tag = where(origin)
        self.lines.append(INDENT * self.level + "# " + text + (f"  ({tag})" if tag else ""))

    @contextmanager
    def block(self, header: str, origin: Span | str | None = None, fill: bool = True):
        """An indented block under `header` (`pass` if it stays empty, unless fill=False)."""
        self.line(header, origin)
        self.level += 1
        start = len(self.lines)
        yield self
        if fill and len(self.lines) == start:
            self.line("pass")
        self.level -= 1

    def extend(self, other: "Code") -> None:
        self.lines.extend(other.lines)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


_IDENT = re.compile(r"[^0-9A-Za-z_]")


def identifier(text: str) -> str:
    """A Python identifier made from `text` (dots and other signs become underscores)."""
    out = _IDENT.sub("_", text)
    if not out or out[0].isdigit():
        out = "v_" + out
    if keyword.iskeyword(out):
        out += "_"
    return out


class NameTable:
    """Unique local names in one generated function (first come, first served)."""

    RESERVED = {"numpy", "math", "njit", "range", "float", "int", "abs", "min", "max", "len", "True",
                "False", "None", "step", "seed", "phase", "consts", "bad", "t"}

    def __init__(self, reserved: set[str] | None = None) -> None:
        self.taken: set[str] = set(self.RESERVED | (reserved or set()))
        self.by_key: dict[object, str] = {}

    def get(self, key: object, hint: str) -> str:
        if key in self.by_key:
            return self.by_key[key]
        base = identifier(hint)
        name, n = base, 2
        while name in self.taken or name.startswith("_"):
            if name.startswith("_"):
                base = "v" + base
                name = base
                continue
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        self.by_key[key] = name
        return name

    def fixed(self, key: object, name: str) -> str:
        """Reserve an exact name (internal ones start with `_`)."""
        self.taken.add(name)
        self.by_key[key] = name
        return name


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
