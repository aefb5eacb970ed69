"""Building Python source: indented lines with `# file.snn:LINE` comments, unique local names."""

from __future__ import annotations

import keyword
import re
from contextlib import contextmanager
from pathlib import PurePath

from snnlang.diagnostics import Span

INDENT = "    "
COMMENT_COLUMN = 80


def where(origin: Span | None) -> str | None:
    """`file.snn:LINE` of an IR origin (the file's base name: the text does not depend on the
    checkout's location)."""
    if origin is None:
        return None
    return f"{PurePath(origin.file).name}:{origin.line}"


class Code:
    """Lines of Python; `line(text, origin)` appends `# file.snn:LINE` when the IR knows where the
    statement came from."""

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
            out = (out.ljust(COMMENT_COLUMN) if len(out) < COMMENT_COLUMN else out) + "  # " + tag
        self.lines.append(out)

    def comment(self, text: str, origin: Span | None = None) -> None:
        tag = where(origin)
        self.lines.append(INDENT * self.level + "# " + text + (f"  ({tag})" if tag else ""))

    @contextmanager
    def block(self, header: str | None, origin: Span | str | None = None):
        """An indented block under `header` (`pass` if it stays empty); None: no block at all."""
        if header is None:
            yield self
            return
        self.line(header, origin)
        self.level += 1
        start = len(self.lines)
        yield self
        if len(self.lines) == start:
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
    """Unique names in one generated function (first come, first served); names starting with
    `_` and the reserved ones belong to the generator."""

    RESERVED = {"torch", "numpy", "math", "ops", "S", "K", "X", "G", "DT", "B", "step", "seed", "phase",
                "A", "P", "D", "R", "Q", "t", "k", "n_steps", "True", "False", "None", "float", "int"}

    def __init__(self) -> None:
        self.taken: set[str] = set(self.RESERVED)
        self.by_key: dict[object, str] = {}

    def get(self, key: object, hint: str) -> str:
        if key in self.by_key:
            return self.by_key[key]
        base = identifier(hint).lstrip("_") or "v"
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        self.by_key[key] = name
        return name
