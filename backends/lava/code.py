"""Building Python source: indented lines with `.snn` origin comments, and identifiers."""

from __future__ import annotations

import keyword
import re
from contextlib import contextmanager
from pathlib import PurePath

from snnlang.diagnostics import Span

INDENT = "    "
COMMENT_COLUMN = 80


def where(origin: Span | None) -> str | None:
    """`file.snn:LINE` of an IR origin (the file's base name: the text does not depend on where
    the checkout lives)."""
    if origin is None:
        return None
    return f"{PurePath(origin.file).name}:{origin.line}"


class Code:
    """Lines of Python; `line(text, origin)` appends `# file.snn:LINE` when the IR knows where
    the statement came from."""

    def __init__(self, level: int = 0) -> None:
        self.lines: list[str] = []
        self.level = level

    def line(self, text: str = "", origin: Span | None = None) -> None:
        if not text:
            self.lines.append("")
            return
        out = INDENT * self.level + text
        tag = where(origin)
        if tag:
            out = (out.ljust(COMMENT_COLUMN) if len(out) < COMMENT_COLUMN else out) + "  # " + tag
        self.lines.append(out)

    def comment(self, text: str) -> None:
        for part in text.split("\n"):
            self.lines.append(INDENT * self.level + ("# " + part if part else "#"))

    @contextmanager
    def block(self, header: str, origin: Span | None = None):
        """An indented block under `header` (`pass` if it stays empty)."""
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


def class_name(prefix: str, name: str) -> str:
    """`Pop_hid`, `Conn_W1`: a class name for an owner of the network."""
    return prefix + "_" + identifier(name)
