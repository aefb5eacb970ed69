"""Building Python source, shared by the backends that print Python (numba, torch, lava):
indented lines tagged with the `.snn` line they come from, and unique identifiers.

Generated files are read by users (a `# file.snn:LINE` tag on a statement says where to look in
the model), so the tags sit in a column of their own and carry the file's base name only: the
text, and with it every cache key derived from it, does not depend on where a checkout lives.
"""

from __future__ import annotations

import keyword
import re
from contextlib import contextmanager
from pathlib import PurePath

from snnlang.diagnostics import Span

INDENT = "    "


def where(origin: Span | None) -> str | None:
    """`file.snn:LINE` of an IR origin, or None when the IR does not know it."""
    if origin is None:
        return None
    return f"{PurePath(origin.file).name}:{origin.line}"


class Code:
    """Lines of Python; `line(text, origin)` appends `# file.snn:LINE` when the IR knows where
    the statement came from (a string origin is used as the tag as it is)."""

    comment_column = 80          # where origin tags start (a backend may prefer another)

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
            out = out.ljust(self.comment_column) + "  # " + tag
        self.lines.append(out)

    def comment(self, text: str, origin: Span | None = None) -> None:
        """`# text` (several lines if it has several), the origin in brackets after the last."""
        tag = where(origin)
        parts = text.split("\n")
        for k, part in enumerate(parts):
            suffix = f"  ({tag})" if tag and k == len(parts) - 1 else ""
            self.lines.append(INDENT * self.level + ("# " + part if part else "#") + suffix)

    @contextmanager
    def block(self, header: str | None, origin: Span | str | None = None, fill: bool = True):
        """An indented block under `header` (`pass` if it stays empty, unless fill=False);
        header None: no block, the lines stay at this level."""
        if header is None:
            yield self
            return
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


_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")


def identifier(text: str) -> str:
    """A Python identifier made from `text` (dots and other signs become underscores)."""
    out = _NOT_IDENT.sub("_", text)
    if not out or out[0].isdigit():
        out = "v_" + out
    if keyword.iskeyword(out):
        out += "_"
    return out


class NameTable:
    """Unique names in one generated function (first come, first served). Names starting with
    `_` and the backend's RESERVED ones belong to the generator, so a model's names never
    shadow them."""

    RESERVED: frozenset[str] = frozenset({"True", "False", "None", "float", "int"})

    def __init__(self, reserved: set[str] | None = None) -> None:
        self.taken: set[str] = set(self.RESERVED | (reserved or set()))
        self.by_key: dict[object, str] = {}

    def get(self, key: object, hint: str) -> str:
        if key in self.by_key:
            return self.by_key[key]
        base = identifier(hint).lstrip("_") or "v"
        if base[0].isdigit():
            base = "v" + base
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        self.by_key[key] = name
        return name

    def fixed(self, key: object, name: str) -> str:
        """Reserve an exact name (the generator's internal ones start with `_`)."""
        self.taken.add(name)
        self.by_key[key] = name
        return name
