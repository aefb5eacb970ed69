"""The grammar, the model library and the backends ship correctly.

Three top-level folders are installed under other names (see pyproject.toml and setup.py):
``grammar/`` -> ``snnlang.grammar``, ``models/`` -> ``snnlang.models``,
``backends/`` -> ``snnlang_backends``. These tests check that this holds both in the
editable install used for development and in a wheel built from the checkout.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]

# What a wheel build needs from the checkout (copied, so the build leaves no
# build/ or *.egg-info/ behind in the working tree).
BUILD_INPUTS = ["pyproject.toml", "setup.py", "README.md", "snnlang", "grammar", "models", "backends"]


def test_editable_install_serves_resources():
    grammar = importlib.resources.files("snnlang.grammar") / "snn.lark"
    assert grammar.is_file(), grammar
    assert grammar.read_text(encoding="utf-8").strip(), "snn.lark is empty"
    # the editable install maps the package onto the checkout's grammar/ folder
    assert Path(str(grammar)).resolve() == (ROOT / "grammar" / "snn.lark").resolve()

    models = importlib.resources.files("snnlang.models")
    assert models.is_dir()
    shipped = {p.name for p in models.iterdir() if p.name.endswith(".snn")}
    assert shipped == {p.name for p in (ROOT / "models").glob("*.snn")}

    backends = importlib.import_module("snnlang_backends")
    assert Path(backends.__file__).resolve().parent == (ROOT / "backends").resolve()


def _source_packages() -> set[str]:
    """Installed package names implied by the checkout's folders with an __init__.py."""
    names = set()
    for folder, prefix in (("snnlang", "snnlang"), ("backends", "snnlang_backends")):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            names.add(".".join((prefix, *rel)))
    return names | {"snnlang.grammar", "snnlang.models"}


def test_wheel_ships_grammar_models_and_backends(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)

    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", str(src), "-w", str(dist)],
        check=True, cwd=tmp_path,
    )
    (wheel,) = dist.glob("snnlang-0.1.0-*.whl")

    # the wheel holds every package of the checkout, the grammar and every model
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    packages = {n.rsplit("/", 1)[0].replace("/", ".") for n in names if n.endswith("/__init__.py")}
    assert _source_packages() <= packages, sorted(_source_packages() - packages)
    assert "snnlang/grammar/snn.lark" in names
    for model in (ROOT / "models").glob("*.snn"):
        assert f"snnlang/models/{model.name}" in names
    assert not any(n.startswith(("backends/", "grammar/", "models/", "tests/")) for n in names), sorted(names)
    assert "snnc = snnlang.cli:main" in entry_points

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check",
         "-q", "--target", str(target), str(wheel)],
        check=True, cwd=tmp_path,
    )

    # -I: ignore PYTHONPATH, the user site and the script's folder. site-packages (with
    # the editable install's finder) is still loaded, so the check below also proves
    # that every module came from the installed wheel, not from the checkout.
    probe = textwrap.dedent(
        """
        import importlib, importlib.resources, json, sys
        sys.path.insert(0, sys.argv[1])
        grammar = importlib.resources.files("snnlang.grammar") / "snn.lark"
        models = importlib.resources.files("snnlang.models")
        backends = importlib.import_module("snnlang_backends")
        print(json.dumps({
            "grammar": str(grammar),
            "grammar_is_file": grammar.is_file(),
            "grammar_size": len(grammar.read_bytes()) if grammar.is_file() else 0,
            "models": str(models),
            "models_is_dir": models.is_dir(),
            "model_files": sorted(p.name for p in models.iterdir() if p.name.endswith(".snn")),
            "backends": backends.__file__,
            "snnlang": importlib.import_module("snnlang").__file__,
        }))
        """
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(target)],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])

    site = str(target.resolve())
    for key in ("grammar", "models", "backends", "snnlang"):
        assert str(Path(found[key]).resolve()).startswith(site), (key, found[key])
    assert found["grammar_is_file"]
    assert found["grammar_size"] == (ROOT / "grammar" / "snn.lark").stat().st_size
    assert found["models_is_dir"]
    assert found["model_files"] == sorted(p.name for p in (ROOT / "models").glob("*.snn"))
