"""Diagnostics as data: every user-facing problem is a `Diagnostic`.

Stages never print and never raise for a user's mistake; they return
diagnostics, and the CLI / runtime render them once, with file:line:col,
the source line, a caret under the span and the hints.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Iterator, Sequence


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns are 1-based, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


# Stable codes. A code never changes meaning; retired codes are not reused.
# E1xx syntax, E2xx names and scopes, E3xx units, E4xx types, E5xx write rules,
# E6xx network and schedule, E7xx files and imports. Warnings use W + same scheme.
# L7xx: target constraints of Loihi / Lava (backends/lava), at the `.snn` line they concern;
# notes (why an owner runs as a custom process) unless native mapping is required.
CODES: dict[str, str] = {
    "E100": "syntax error",
    "E101": "unexpected end of file",
    "E102": "inconsistent indentation",
    "E103": "unexpected character",
    "E104": "unterminated string",
    "E105": "nesting too deep (expressions, blocks, or definitions defined through each other)",
    "E107": "constant is not a finite number",
    "E200": "unknown name",
    "E201": "duplicate definition",
    "E202": "unknown neuron or synapse type",
    "E203": "unknown compartment",
    "E204": "unknown event",
    "E205": "unknown function",
    "E206": "wrong number of arguments",
    "E207": "unknown keyword argument",
    "E208": "name shadows a unit or built-in",
    "E209": "unknown phase",
    "E210": "`pre`/`post` used outside a synapse",
    "E211": "unknown population or connection",
    "E212": "unknown parameter",
    "E213": "invalid ODE or update target",
    "E214": "unknown solver method",
    "E215": "unknown option value",
    "E300": "dimension mismatch",
    "E301": "unknown unit",
    "E302": "non-dimensionless argument",
    "E303": "non-integer or non-constant exponent of a dimensional quantity",
    "E304": "ODE right-hand side has wrong dimension",
    "E305": "time expected",
    "E306": "refractory period holds a variable without dynamics",
    "E400": "type mismatch",
    "E401": "invalid fixed-point type",
    "E402": "condition is not boolean",
    "E403": "value expected, got a boolean",
    "E404": "not a constant expression",
    "E405": "invalid refractory period",
    "E406": "invalid trace time constant or decay",
    "E407": "argument outside the function's domain",
    "E500": "assignment to a read-only name",
    "E501": "write to another neuron's state",
    "E502": "variable defined by both an ODE and an update",
    "E503": "delivery target is not an input port",
    "E504": "trace event not valid here",
    "E600": "invalid population size",
    "E601": "invalid connection endpoint",
    "E602": "tie shape or variable mismatch",
    "E603": "invalid schedule",
    "E604": "invalid encoder",
    "E605": "invalid connectivity",
    "E606": "no network in file",
    "E607": "invalid storage override (`store ... as`)",
    "E608": "invalid time step",
    "E609": "invalid simulated duration",
    "E610": "encoder option out of range",
    "E611": "invalid delay",
    "E700": "cannot read file",
    "E701": "import not found",
    "E702": "circular import",
    "E703": "imported name not found",
    "E704": "import outside the model's folder, the search path and the shipped models",
    "E705": "import of a file that is not a `.snn` file",
    "E706": "import chain too deep",
    "W600": "population never connected",
    "W601": "plastic connection never enabled by a phase",
    "W602": "unused parameter",
    "W603": "phase-dependent code names a phase the schedule lacks",
    "L701": "tied weights cannot run on Lava",
    "L702": "phase hooks cannot run on Lava",
    "L710": "population is not Loihi's LIF",
    "L711": "connection is not a Loihi Dense projection",
    "L712": "plasticity is not a Loihi learning rule",
    "L713": "learning-rule coefficient not representable as m * 2^e",
    "L714": "Loihi would only approximate the learning rule",
    "L715": "value outside Loihi's fixed-point range",
}


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    span: Span | None
    hints: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(code: str, message: str, span: Span | None, *hints: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, span, tuple(h for h in hints if h))


def warning(code: str, message: str, span: Span | None, *hints: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, span, tuple(h for h in hints if h))


# How many candidate names "did you mean" hints may compare in one check (`hint_budget`).
# Each hint costs time in the size of its pool, so a file with thousands of unknown names in
# a scope of thousands would take quadratic time; past the budget hints are left out.
HINT_BUDGET = 200_000
_hint_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("hint_budget", default=None)


@contextlib.contextmanager
def hint_budget(comparisons: int = HINT_BUDGET) -> Iterator[None]:
    """Bound the work of `did_you_mean` inside the block to `comparisons` candidates in all."""
    token = _hint_budget.set([comparisons])
    try:
        yield
    finally:
        _hint_budget.reset(token)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A "did you mean" hint for a misspelt name, or "" when nothing is close.

    `candidates` may be a lazy iterable: past the budget of `hint_budget` it is not consumed."""
    budget = _hint_budget.get()
    if budget is not None:
        if budget[0] <= 0:
            return ""
        taken = list(itertools.islice(candidates, budget[0] + 1))
        budget[0] -= len(taken)
        if budget[0] < 0:
            return ""
        candidates = taken
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    if not close:
        return ""
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


# Errors and warnings shown per file (`snnc check` says how many more there are).
MAX_DIAGNOSTICS_PER_FILE = 100

# A source line longer than this is shown cut around the caret: a diagnostic shows where the
# problem is, not whole files that happen to be one long line.
MAX_SHOWN_LINE = 200


class SourceCache:
    """Source texts by file name, so diagnostics can show the offending line."""

    def __init__(self) -> None:
        self._texts: dict[str, list[str]] = {}

    def add(self, file: str, text: str) -> None:
        # lines as the parser counts them: only `\n` (or `\r\n`) ends a line; `str.splitlines`
        # would also split at form feeds, `\x1c`..`\x1e`, U+0085, U+2028... and show the wrong line
        self._texts[file] = text.replace("\r\n", "\n").split("\n")

    def texts(self) -> dict[str, str]:
        """Every file's text (as the parser saw its lines), by file name."""
        return {name: "\n".join(lines) for name, lines in self._texts.items()}

    def line(self, file: str, number: int) -> str | None:
        lines = self._texts.get(file)
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]


# The parser expands tabs to this many columns before parsing (snnlang.syntax.parser.TAB_LEN),
# so span columns count a tab that way; the rendered line must be expanded alike.
TAB_SIZE = 4


def render(diag: Diagnostic, sources: SourceCache | None = None) -> str:
    """Render one diagnostic the way a compiler does: location, line, caret, hints."""
    head = f"{diag.severity.value}[{diag.code}]: {diag.message}"
    if diag.span is None:
        out = [head]
    else:
        out = [f"{diag.span}: {head}"]
        text = sources.line(diag.span.file, diag.span.line) if sources else None
        if text is not None:
            text = text.expandtabs(TAB_SIZE)
            gutter = str(diag.span.line)
            pad = " " * len(gutter)
            start = max(diag.span.col - 1, 0)
            if diag.span.end_line == diag.span.line:
                width = max(diag.span.end_col - diag.span.col, 1)
            else:
                width = max(len(text.rstrip()) - start, 1)
            if len(text) > MAX_SHOWN_LINE:
                first = max(0, min(start - MAX_SHOWN_LINE // 4, len(text) - MAX_SHOWN_LINE))
                shown = text[first:first + MAX_SHOWN_LINE]
                prefix = "..." if first else ""
                text = prefix + shown + ("..." if first + MAX_SHOWN_LINE < len(text) else "")
                start = start - first + len(prefix)
                width = max(min(width, len(prefix) + len(shown) - start), 1)
            out.append(f" {gutter} | {text}")
            out.append(f" {pad} | {' ' * start}{'^' * width}")
    for hint in diag.hints:
        out.append(f"  = hint: {hint}")
    return "\n".join(out)


def render_all(diags: Sequence[Diagnostic], sources: SourceCache | None = None) -> str:
    return "\n\n".join(render(d, sources) for d in diags)


def sort_key(diag: Diagnostic) -> tuple:
    s = diag.span
    return (s.file, s.line, s.col, diag.code) if s else ("", 0, 0, diag.code)
