"""Broken models: each `.snn` file here declares the diagnostics it must produce.

Header comments of a file state what `snnc check` must report:

    # expect: E300 at 7:13                      an error or warning at line:col of this file
    # expect: E304 at lib/broken_units.snn:9:13  ... of a file it imports (path relative to here)
    # expect-text: did you mean `tau_m`?        text that must appear in the rendered output

The set of (code, file, line, col) of the errors and warnings must equal the declared set
exactly, so a checker that adds noise (follow-on errors) fails as much as one that misses
the mistake. `lib/` holds the library files some of the models import.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from snnlang.diagnostics import CODES, Severity, render
from snnlang.semantics.checker import check_path

HERE = Path(__file__).resolve().parent
FILES = sorted(HERE.glob("*.snn"))

_EXPECT = re.compile(r"^#\s*expect:\s*([EW]\d{3})\s+at\s+(?:(\S+):)?(\d+):(\d+)\s*$")
_EXPECT_TEXT = re.compile(r"^#\s*expect-text:\s*(.+?)\s*$")


def expectations(path: Path) -> tuple[set[tuple[str, Path, int, int]], list[str]]:
    expected: set[tuple[str, Path, int, int]] = set()
    texts: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            continue
        if m := _EXPECT.match(line):
            code, rel, ln, col = m.groups()
            where = (path.parent / rel).resolve() if rel else path
            expected.add((code, where, int(ln), int(col)))
        elif m := _EXPECT_TEXT.match(line):
            texts.append(m.group(1))
        elif line.lstrip("# ").startswith("expect"):
            raise AssertionError(f"{path.name}: malformed expectation line {line!r}")
    return expected, texts


def _fmt(items) -> str:
    return "\n".join(f"  {code} at {p.name}:{ln}:{col}" for code, p, ln, col in sorted(items, key=str)) or "  (none)"


def test_there_are_enough_invalid_models():
    assert len(FILES) >= 30, f"only {len(FILES)} invalid models in {HERE}"


def test_every_file_declares_known_codes():
    for path in FILES:
        expected, _ = expectations(path)
        assert expected, f"{path.name} declares no `# expect:` line"
        for code, *_ in expected:
            assert code in CODES, f"{path.name}: {code} is not a code in snnlang.diagnostics.CODES"


def test_the_files_cover_a_wide_spread_of_codes():
    codes = {code for path in FILES for code, *_ in expectations(path)[0]}
    families = {code[:2] for code in codes}
    assert {"E1", "E2", "E3", "E4", "E5", "E6", "E7", "W6"} <= families
    assert len(codes) >= 40, sorted(codes)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_invalid_model(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # run from an unrelated folder: imports resolve relative to the model file, not the cwd
    monkeypatch.chdir(tmp_path)
    expected, texts = expectations(path)
    result = check_path(path)

    reported = [d for d in result.diagnostics if d.severity in (Severity.ERROR, Severity.WARNING)]
    for d in reported:
        assert d.span is not None, f"{d.code} has no location: {d.message}"
        assert d.code in CODES, d

    actual = {(d.code, Path(d.span.file).resolve(), d.span.line, d.span.col) for d in reported}
    assert actual == expected, (
        f"{path.name}\nexpected:\n{_fmt(expected)}\nreported:\n{_fmt(actual)}\n\n"
        + "\n\n".join(render(d, result.sources) for d in reported))

    # spans point into the model itself, or into the imported file the test is about
    allowed = {path} | {p for _c, p, _l, _k in expected}
    for d in reported:
        assert Path(d.span.file).resolve() in allowed, d

    # rendering: `file:line:col: severity[code]`, the source line, a caret under the span
    rendered = []
    for d in reported:
        text = render(d, result.sources)
        rendered.append(text)
        where = f"{d.span.file}:{d.span.line}:{d.span.col}"
        assert text.startswith(f"{where}: {d.severity.value}[{d.code}]"), text
        source_line = Path(d.span.file).read_text(encoding="utf-8").splitlines()[d.span.line - 1]
        lines = text.splitlines()
        assert lines[1] == f" {d.span.line} | {source_line}", text
        caret = lines[2].split(" | ", 1)[1]
        assert caret.strip() and set(caret.strip()) == {"^"}, text
        assert len(caret) - len(caret.lstrip(" ")) == d.span.col - 1, f"caret not under column {d.span.col}:\n{text}"
        for hint in d.hints:
            assert f"  = hint: {hint}" in text

    output = "\n\n".join(rendered)
    for wanted in texts:
        assert wanted in output, f"{path.name}: expected {wanted!r} in the output:\n{output}"

    has_errors = any(code.startswith("E") for code, *_ in expected)
    assert result.ok is not has_errors
