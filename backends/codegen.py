"""Building Python source, shared by the backends that print Python (numba, torch, lava):
indented lines tagged with the `.snn` line they come from, and unique identifiers.

Generated files are read by users (a `# file.snn:LINE` tag on a statement says where to look in
the model), so the tags sit in a column of their own and carry the file's base name only: the
text, and with it every cache key derived from it, does not depend on where a checkout lives.

Every string that comes from the user (a file name, a name or text of the model) reaches the
generated source only through `literal` (a Python string literal) or `source_text` (inside a
comment or a docstring): a file whose name holds triple quotes and code, or a newline, must
stay text and never become code.
"""

from __future__ import annotations

import keyword
import re
from contextlib import contextmanager
from pathlib import PurePath

from snnlang.diagnostics import Span

INDENT = "    "


def literal(text: str) -> str:
    """A Python string literal of `text` on one line: repr() escapes every quote, backslash,
    line break and unprintable character, so the literal cannot end early or span lines."""
    return repr(str(text))


def source_text(text: str) -> str:
    """`text` made inert inside a generated comment or docstring, reading as it reads: line
    breaks of any kind (\\n, \\r, \\x0b, \\x0c, \\x1c-\\x1e, \\x85, U+2028, U+2029), NUL and every other
    unprintable character (lone surrogates of an undecodable file name too) become escapes, so a
    comment cannot end; backslashes and double quotes are escaped, so a docstring cannot end
    (and `\\N`, `\\u` in a name are not read as escapes of a docstring)."""
    out = []
    for ch in str(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def file_name(path: str) -> str:
    """The base name of a model file as generated text shows it (`source_text`): `/` and `\\`
    both separate folders, so a checkout's location never reaches the text."""
    return source_text(str(path).replace("\\", "/").rsplit("/", 1)[-1])


def where(origin: Span | None) -> str | None:
    """`file.snn:LINE` of an IR origin (safe in a comment), or None when the IR does not know it."""
    if origin is None:
        return None
    return f"{source_text(PurePath(origin.file).name)}:{origin.line}"


class Code:
    """Lines of Python; `line(text, origin)` appends `# file.snn:LINE` when the IR knows where
    the statement came from (a string origin is the tag, made safe by `source_text`)."""

    comment_column = 80          # where origin tags start (a backend may prefer another)

    def __init__(self, level: int = 0) -> None:
        self.lines: list[str] = []
        self.level = level

    def line(self, text: str = "", origin: Span | str | None = None) -> None:
        if not text:
            self.lines.append("")
            return
        out = INDENT * self.level + text
        tag = source_text(origin) if isinstance(origin, str) else where(origin)
        if tag:
            out = out.ljust(self.comment_column) + "  # " + tag
        self.lines.append(out)

    def comment(self, text: str, origin: Span | None = None) -> None:
        """`# text` (several lines if it has several), the origin in brackets after the last."""
        tag = where(origin)
        parts = [source_text(part) for part in text.split("\n")]
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
