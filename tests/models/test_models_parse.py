"""Every shipped model file (`models/*.snn`) parses with no diagnostics at all.

The shipped models are the proof that the language can express the algorithms, so a
syntax error or a parser warning in any of them is a failure. (Semantic checks of the
same files are a separate test.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from snnlang.diagnostics import SourceCache, render
from snnlang.syntax import ast as A
from snnlang.syntax.parser import parse

MODELS = Path(__file__).resolve().parents[2] / "models"
FILES = sorted(MODELS.glob("*.snn"))

# the files the project promises to ship; each must exist (a rename must update this list)
EXPECTED = {"lif.snn", "izhikevich.snn", "adex.snn", "stdp.snn", "triplet_stdp.snn",
            "biograd.snn", "bioleaf.snn", "ssnn_bp.snn"}


def test_expected_models_exist():
    names = {p.name for p in FILES}
    missing = EXPECTED - names
    assert not missing, f"missing model files: {sorted(missing)}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_model_parses_cleanly(path: Path):
    text = path.read_text(encoding="utf-8")
    module, diags = parse(text, str(path))
    sources = SourceCache()
    sources.add(str(path), text)
    assert not diags, "\n\n".join(render(d, sources) for d in diags)
    assert module is not None and module.definitions, f"{path.name} defines nothing"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_model_is_documented(path: Path):
    """A shipped model explains itself: a file docstring, and one on every definition."""
    text = path.read_text(encoding="utf-8")
    module, _ = parse(text, str(path))
    assert module.doc, f"{path.name} has no file docstring"
    undocumented = [d.name for d in module.definitions if not d.doc]
    assert not undocumented, f"{path.name}: no docstring on {undocumented}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_model_has_a_network(path: Path):
    """Every shipped file can be run: it defines at least one network."""
    module, _ = parse(path.read_text(encoding="utf-8"), str(path))
    assert any(isinstance(d, A.NetworkDef) for d in module.definitions), \
        f"{path.name} defines no network"
