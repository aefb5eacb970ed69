"""Every ```snn example in docs/language.md is checked, so the reference cannot drift.

Info strings of the fenced blocks:

    ```snn               must check with no diagnostics at all
    ```snn warn=W600     no errors; every warning is one of the listed codes (comma-separated),
                         and each listed code occurs
    ```snn error=E300    at least one error with that code, and the prose around the block
                         names the code (it must say why)
    ```snn skip          not checked (e.g. it imports a file that sits beside it); at most 2

The test ids carry the line number of the block's opening fence: `L123-error=E300`.
Beyond the examples, the reference must cover every construct keyword of the grammar in a
checked example, and name every built-in, encoder, connectivity, solver and diagnostic code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from snnlang.diagnostics import CODES
from snnlang.semantics import builtins as B
from snnlang.semantics.checker import check_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"
MAX_SKIPPED = 2
# how far around an error example the prose must name its code
PROSE_BEFORE, PROSE_AFTER = 20, 12


@dataclass(frozen=True)
class Block:
    line: int            # 1-based line of the opening fence
    end_line: int        # 1-based line of the closing fence
    info: str            # the words after "snn"
    body: str

    @property
    def attrs(self) -> dict[str, str]:
        out = {}
        for word in self.info.split():
            key, _, value = word.partition("=")
            out[key] = value
        return out

    @property
    def skipped(self) -> bool:
        return "skip" in self.attrs

    @property
    def expected_error(self) -> str | None:
        return self.attrs.get("error")

    @property
    def allowed_warnings(self) -> set[str]:
        value = self.attrs.get("warn")
        return set(value.split(",")) if value else set()

    @property
    def clean(self) -> bool:
        """Checked and expected to have no errors."""
        return not self.skipped and self.expected_error is None

    @property
    def id(self) -> str:
        return f"L{self.line}" + (f"-{self.info.replace(' ', '-')}" if self.info else "")


FENCE = re.compile(r"^```(\S*)(.*)$")


def _fenced_blocks(text: str) -> list[tuple[int, int, str, str, str]]:
    """(open line, close line, language, info, body) of every fenced block."""
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            assert j < len(lines), f"{DOC.name}:{i + 1}: unclosed code block"
            blocks.append((i + 1, j + 1, m.group(1), m.group(2).strip(), "\n".join(lines[i + 1:j]) + "\n"))
            i = j
        i += 1
    return blocks


DOC_TEXT = DOC.read_text(encoding="utf-8")
DOC_LINES = DOC_TEXT.split("\n")
ALL_FENCED = _fenced_blocks(DOC_TEXT)
BLOCKS = [Block(a, b, info, body) for a, b, lang, info, body in ALL_FENCED if lang == "snn"]
CHECKED = [b for b in BLOCKS if not b.skipped]


def _check(block: Block, base: Path):
    return check_text(block.body, file=f"language.md:{block.line}", base=base)


def _show(result) -> str:
    from snnlang.diagnostics import render
    return "\n".join(render(d, result.sources) for d in result.diagnostics) or "(no diagnostics)"


# ----------------------------------------------------------------------------- examples


def test_reference_has_examples():
    assert len(CHECKED) >= 40, "docs/language.md lost most of its examples"


def test_info_strings_are_known():
    for b in BLOCKS:
        unknown = set(b.attrs) - {"skip", "warn", "error"}
        assert not unknown, f"line {b.line}: unknown attribute(s) {sorted(unknown)} in ```snn {b.info}"
        if b.expected_error is not None:
            assert b.expected_error in CODES and b.expected_error.startswith("E"), \
                f"line {b.line}: `error={b.expected_error}` is not an error code"
            assert "warn" not in b.attrs, f"line {b.line}: `error=` and `warn=` together"
        for w in b.allowed_warnings:
            assert w in CODES and w.startswith("W"), f"line {b.line}: `warn={w}` is not a warning code"


def test_at_most_two_skipped_blocks():
    skipped = [b.line for b in BLOCKS if b.skipped]
    assert len(skipped) <= MAX_SKIPPED, f"too many unchecked (`snn skip`) blocks, at lines {skipped}"


@pytest.mark.parametrize("block", CHECKED, ids=[b.id for b in CHECKED])
def test_example(block: Block, tmp_path: Path):
    result = _check(block, tmp_path)
    shown = _show(result)
    if block.expected_error is not None:
        codes = {d.code for d in result.errors}
        assert block.expected_error in codes, (
            f"line {block.line}: expected an error {block.expected_error}, got:\n{shown}")
        return
    assert result.ok, f"line {block.line}: the example should check without errors:\n{shown}"
    warnings = {d.code for d in result.diagnostics if not d.is_error}
    allowed = block.allowed_warnings
    assert warnings <= allowed, (
        f"line {block.line}: unexpected warnings {sorted(warnings - allowed)} "
        f"(mark the block `snn warn=CODE` if they are the point):\n{shown}")
    assert allowed <= warnings, (
        f"line {block.line}: the block says warn={','.join(sorted(allowed))} but the checker "
        f"gave {sorted(warnings) or 'none'}:\n{shown}")


@pytest.mark.parametrize("block", [b for b in CHECKED if b.expected_error],
                         ids=[b.id for b in CHECKED if b.expected_error])
def test_error_example_is_explained(block: Block):
    """The prose around an error example names its code, so a reader learns why it fails."""
    before = DOC_LINES[max(0, block.line - 1 - PROSE_BEFORE):block.line - 1]
    after = DOC_LINES[block.end_line:block.end_line + PROSE_AFTER]
    assert block.expected_error in "\n".join(before + after), (
        f"line {block.line}: no explanation mentioning {block.expected_error} near the example")


# ------------------------------------------------------------------------------ coverage

_NAME = r"[A-Za-z_]\w*"
# each construct, as the start of a line of an example (comments and strings removed)
CONSTRUCTS: dict[str, str] = {
    "neuron": rf"^neuron\s+{_NAME}\s*:",
    "synapse": rf"^synapse\s+{_NAME}\s*:",
    "network": rf"^network\s+{_NAME}\s*:",
    "compartment": rf"^\s+compartment\s+{_NAME}\s*:",
    "param": rf"^\s+param\s+{_NAME}",
    "state": rf"^\s+state\s+{_NAME}",
    "input (port)": rf"^\s+input\s+{_NAME}\s*(:.*)?$",
    "input (encoder)": rf"^\s+input\s+{_NAME}\s*=",
    "trace": rf"^\s+trace\s+{_NAME}\s*:",
    "trace tau": rf"^\s+trace\s+{_NAME}\s*:\s*tau\b",
    "trace decay": rf"^\s+trace\s+{_NAME}\s*:\s*decay\b",
    "trace sum": rf"^\s+trace\s+{_NAME}\s*:\s*sum\b",
    "trace mean": rf"^\s+trace\s+{_NAME}\s*:\s*mean\b",
    "trace as": rf"^\s+trace\s+.*\bas\s+fixed\s*<",
    "spike": r"^\s+spike\s+when\b",
    "event": rf"^\s+event\s+{_NAME}\s+when\b",
    "refractory": r"^\s+refractory\s+\S",
    "during": rf"^\s+during\s+{_NAME}",
    "at": rf"^\s+at\s+(start|end)\s+of\s+{_NAME}\s*:",
    "at start of": rf"^\s+at\s+start\s+of\s+{_NAME}\s*:",
    "at end of": rf"^\s+at\s+end\s+of\s+{_NAME}\s*:",
    "ode": rf"^\s+d{_NAME}\s*/\s*dt\s*=",
    "update <-": rf"^\s+{_NAME}\s*<-",
    "using": rf"^\s+d{_NAME}\s*/\s*dt\s*=.*\busing\s+{_NAME}\s*$",
    "on pre": r"^\s+on\s+pre\s*:",
    "on post": r"^\s+on\s+post\s*:",
    "on post.EVENT": rf"^\s+on\s+post\.{_NAME}\s*:",
    "on pre.EVENT": rf"^\s+on\s+pre\.{_NAME}\s*:",
    "every step": r"^\s+every\s+step\s*:",
    "delivery post.X +=": rf"^\s+post\.[\w.]+\s*[+-]=",
    "if": r"^\s+if\s.*:\s*$",
    "connect": r"^\s+connect\s",
    "label": rf"^\s+label\s+{_NAME}\s*=",
    "layer": rf"^\s+layer\s+{_NAME}\s*=",
    "population": rf"^\s+population\s+{_NAME}\s*=",
    "readout": r"^\s+readout\s",
    "metric": rf"^\s+metric\s+{_NAME}\s*=",
    "timestep": r"^\s+timestep\s",
    "simulate": r"^\s+simulate\s",
    "schedule": r"^\s+schedule\s*:",
    "phase": rf"^\s+phase\s+{_NAME}\s*\(",
    "every": r"^\s+phase\s.*\bevery\s+.+\bsamples\b",
    "active": r"^\s+active\s",
    "plastic": r"^\s+plastic\s",
    "reset": r"^\s+reset\s",
    "infer": r"^\s+infer\s",
    "batch": r"^\s+batch\s",
    "tie": rf"^\s+tie\s+{_NAME}\s*=",
    "init": rf"^\s+init\s+{_NAME}\s*=",
    "delay": r"^\s+delay\s",
    "connectivity": r"^\s+connectivity\s",
    "fixed": r"\bfixed\s*<",
    "and": r"\sand\s",
    "or": r"\sor\s",
    "xor": r"\sxor\s",
    "not": r"\bnot\s",
}
# imports need a file beside the example: a checked error example (E701) may carry them
IMPORT_CONSTRUCTS: dict[str, str] = {
    "import": r'^import\s+"[^"]+"\s*$',
    "from": r'^from\s+"[^"]+"\s+import\s+\w',
}
# the construct keywords of the grammar: each must be covered by one of the patterns above
GRAMMAR_KEYWORDS = ("neuron synapse network compartment param state input trace spike event "
                    "refractory during at connect input label layer population readout metric "
                    "timestep simulate schedule phase active plastic reset infer batch import from "
                    "tie init delay connectivity every using fixed").split()


def _code_lines(body: str) -> list[str]:
    """The lines of an example with strings and comments blanked out."""
    body = re.sub(r'"""(.|\n)*?"""', lambda m: "\n" * m.group(0).count("\n"), body)
    body = re.sub(r'"[^"\n]*"', '"x"', body)
    return [line.split("#", 1)[0].rstrip() for line in body.split("\n")]


def _covered(blocks: list[Block], patterns: dict[str, str]) -> set[str]:
    found = set()
    for b in blocks:
        lines = _code_lines(b.body)
        for name, pattern in patterns.items():
            if any(re.search(pattern, line) for line in lines):
                found.add(name)
    return found


def test_every_grammar_keyword_has_a_pattern():
    names = {n.split()[0] for n in list(CONSTRUCTS) + list(IMPORT_CONSTRUCTS)}
    assert not set(GRAMMAR_KEYWORDS) - names


def test_every_construct_appears_in_a_clean_example():
    """An undocumented construct fails here: each one must occur in an example that checks."""
    missing = set(CONSTRUCTS) - _covered([b for b in BLOCKS if b.clean], CONSTRUCTS)
    assert not missing, f"constructs without a checked, error-free example: {sorted(missing)}"


def test_imports_appear_in_a_checked_example():
    missing = set(IMPORT_CONSTRUCTS) - _covered(CHECKED, IMPORT_CONSTRUCTS)
    assert not missing, f"import forms without a checked example: {sorted(missing)}"


def _mentioned(name: str) -> bool:
    return re.search(rf"`{re.escape(name)}[`(<]", DOC_TEXT) is not None


@pytest.mark.parametrize("table,names", [
    ("functions", sorted(B.FUNCTIONS)),
    ("encoders", sorted(B.ENCODERS) + sorted(B.LABEL_ENCODERS)),
    ("connectivities", sorted(B.CONNECTIVITIES)),
    ("solvers", list(B.SOLVERS)),
    ("fixed-point options", sorted(B.FIXED_OPTIONS)),
    ("scalar types", list(B.SCALAR_TYPES)),
    ("batch modes", list(B.BATCH_MODES)),
    ("implicit names", sorted(B.IMPLICIT_NAMES)),
])
def test_builtins_are_documented(table: str, names: list[str]):
    missing = [n for n in names if not _mentioned(n)]
    assert not missing, f"{table} missing from docs/language.md: {missing}"


def test_every_diagnostic_code_is_listed():
    missing = [c for c in CODES if not re.search(rf"\b{c}\b", DOC_TEXT)]
    assert not missing, f"diagnostic codes missing from the Diagnostics section: {missing}"


# ------------------------------------------------------------------- rendered diagnostics

HEADER = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>\w+)\]: ")


def _rendered_examples() -> list[tuple[int, str, Block]]:
    """```text blocks showing `snnc check` output, each with the example just before it."""
    out = []
    for line, _end, lang, _info, body in ALL_FENCED:
        if lang != "text" or not any(HEADER.match(x) for x in body.split("\n")):
            continue
        before = [b for b in CHECKED if b.line < line]
        assert before, f"line {line}: rendered diagnostics without an example before them"
        out.append((line, body, before[-1]))
    return out


RENDERED = _rendered_examples()


def test_reference_shows_a_rendered_diagnostic():
    assert RENDERED, "the Diagnostics section should show `snnc check` output"


@pytest.mark.parametrize("line,text,block", RENDERED, ids=[f"L{r[0]}" for r in RENDERED])
def test_rendered_output_matches_the_checker(line: int, text: str, block: Block, tmp_path: Path):
    """The shown locations and codes are what the checker reports for the example before it."""
    result = _check(block, tmp_path)
    actual = {(d.span.line, d.span.col, d.severity.value, d.code) for d in result.diagnostics if d.span}
    shown = [HEADER.match(x) for x in text.split("\n")]
    shown = [(int(m["line"]), int(m["col"]), m["sev"], m["code"]) for m in shown if m]
    assert set(shown) == actual, (
        f"line {line}: the rendered output shows {sorted(shown)} but the checker reports "
        f"{sorted(actual)}:\n{_show(result)}")
    summary = re.search(r"^\S+: (\d+) errors?$", text, re.M)
    if summary:
        assert int(summary.group(1)) == len(result.errors)


# ------------------------------------------------------------------------ internal links


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_internal_links_resolve():
    in_code = False
    anchors = set()
    for line in DOC_LINES:
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            anchors.add(_anchor(line.lstrip("#")))
    links = set(re.findall(r"\]\(#([^)]+)\)", DOC_TEXT))
    assert not links - anchors, f"links to missing sections: {sorted(links - anchors)}"
