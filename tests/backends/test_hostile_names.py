"""A model's file name (and any other user text) reaches generated Python only as inert text.

The file name used to be pasted raw into the generated modules' docstrings and `# file.snn:LINE`
tags, so a file whose name closed the docstring with triple quotes ran the code after them on
`snnc run`, and a newline in a name broke out of a comment. Each payload here would create the file PWNED in the working
folder; every test asserts it does not exist and that the generated module still imports.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from snnlang.cli import main
from snnlang.diagnostics import Span
from snnlang.ir.lower import lower
from snnlang.semantics.checker import check_text
from snnlang_backends import lava
from snnlang_backends import numba as nb
from snnlang_backends import torch as tb
from snnlang_backends.codegen import Code, literal, source_text, where

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import TINY  # noqa: E402

PYTHON = sys.executable
MARKER = "PWNED"
PAYLOAD = f'open("{MARKER}","w")'      # short: a name of ten of them still fits a file name

# names a file can have on Linux (anything but "/" and NUL): each escapes one way
ON_DISK = {
    "triple_double": f'x"""; {PAYLOAD}; """y.snn',
    "triple_single": f"x'''; {PAYLOAD.replace(chr(34), chr(39))}; '''y.snn",
    "newline": f"x\n{PAYLOAD}\r#\r\n{PAYLOAD}\n.snn",
    # a backslash also separates folders in a header's base name (a Windows path), so it gets
    # a name of its own: a backslash ending a comment line, `\N{` misread in a docstring
    "backslash": f'x\\\n{PAYLOAD}\\"""\\N{{y}}.snn',
}
# and what only a name given without a file can hold (check_text(text, name)), or a library user
# building an IR by hand: NUL, every other line break Python's str.splitlines knows, surrogates
EVERY_BREAK = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
TEXT_ONLY = {
    "nul": f"x\x00\n{PAYLOAD}\n#.snn",
    "breaks": '"""' + "".join(f"{ch}{PAYLOAD}#" for ch in EVERY_BREAK) + ".snn",
    "surrogate": f"x\udcff\n{PAYLOAD}\n.snn",
}
HOSTILE = [*ON_DISK.values(), *TEXT_ONLY.values(), "\\", '"', "'", '"""', "'''", "\\N{", "\t\x7f\x00"]


def _is_payload(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open" \
        and any(isinstance(a, ast.Constant) and a.value == MARKER for a in node.args)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working folder (where a payload would write PWNED) and a private cache."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("SNNLANG_CACHE_DIR", str(tmp_path / "cache"))
    yield work
    assert not (work / MARKER).exists(), "the payload in a file name ran"


# ----------------------------------------------------------------------------- the escape itself


@pytest.mark.parametrize("text", HOSTILE)
def test_source_text_is_one_inert_line_in_a_comment_and_a_docstring(text):
    safe = source_text(text)
    assert len(safe.splitlines()) == 1 and "\x00" not in safe
    assert not any(ch in safe for ch in EVERY_BREAK)
    module = ast.parse(f"# {safe}\nX = 1\n")
    assert [type(s) for s in module.body] == [ast.Assign]           # nothing after the comment ran
    # a docstring reads back as the text itself: nothing ended it, no escape was misread
    assert ast.literal_eval(f'"""{safe}"""') == text
    assert ast.literal_eval(f'"""a {safe}"""') == "a " + text
    safe.encode("utf-8")                                             # a lone surrogate is escaped too


@pytest.mark.parametrize("text", HOSTILE)
def test_literal_reads_back_as_the_text(text):
    assert len(literal(text).splitlines()) == 1
    assert ast.literal_eval(literal(text)) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_origin_tags_and_comments_stay_comments(text):
    code = Code()
    code.line("X = 1", Span(text, 3, 1, 3, 2))
    code.line("Y = 2", text)
    code.comment(f"about {text}", Span(text, 4, 1, 4, 2))
    code.line("Z = 3")
    assert where(Span(text, 3, 1, 3, 2)).endswith(":3")
    module = ast.parse(code.text())
    assert [t.id for s in module.body for t in s.targets] == ["X", "Y", "Z"]


# ----------------------------------------------------------------------------- generated modules


def _ir(name: str):
    checked = check_text(TINY, name)
    assert checked.ok
    return lower(checked)


def _import(source: str, workdir: Path, folder: Path):
    """Import a generated module's text from a file (numba caches by file), as snnlang would."""
    import importlib.util
    path = folder / f"generated_{len(list(folder.glob('generated_*.py')))}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not (workdir / MARKER).exists()
    return module


SOURCES = {
    "numba": lambda ir: nb.source(ir, "tiny"),
    "torch": lambda ir: tb.source(ir, "tiny"),
    "lava": lambda ir: lava.source(ir, "tiny"),
}


@pytest.mark.parametrize("backend", sorted(SOURCES))
@pytest.mark.parametrize("name", [*ON_DISK.values(), *TEXT_ONLY.values()], ids=[*ON_DISK, *TEXT_ONLY])
def test_generated_module_imports_and_shows_the_name_as_text(backend, name, workdir, tmp_path):
    if backend == "lava" and not lava.lava_available():
        pytest.skip("lava-nc is not installed")
    source = SOURCES[backend](_ir(name))
    module = ast.parse(source)
    base = name.rsplit("/", 1)[-1]
    assert base.replace("\\", "/").rsplit("/", 1)[-1] in ast.get_docstring(module, clean=False)
    assert _import(source, workdir, tmp_path).NETWORK == "tiny"
    # the payload is in no statement of the module: only in its docstring and comments
    assert not any(_is_payload(node) for node in ast.walk(module))


# ----------------------------------------------------------------------------- `snnc run`, every backend


@pytest.mark.parametrize("backend", ["reference", "numba", "torch", "lava"])
@pytest.mark.parametrize("key", sorted(ON_DISK))
def test_a_hostile_file_name_runs_on_every_backend(backend, key, workdir, tmp_path):
    if backend == "lava" and not lava.lava_available():
        pytest.skip("lava-nc is not installed")
    path = tmp_path / ON_DISK[key]
    path.write_text(TINY, encoding="utf-8")
    import snnlang
    model = snnlang.compile(path, target=backend, seed=1)     # a Path: the name is never read as text
    try:
        out = model.run(10, record=("o.spike",))
    finally:
        getattr(model.exe, "close", lambda: None)()      # Lava's processes
    assert out.data["o.spike"].shape[0] == 10
    assert not (workdir / MARKER).exists()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_snnc_run_of_a_hostile_file_name(backend, workdir, tmp_path, capsys):
    path = tmp_path / ON_DISK["triple_double"]
    path.write_text(TINY, encoding="utf-8")
    assert main(["run", str(path), "--target", backend, "--steps", "10"]) == 0
    assert "network tiny: 10 steps" in capsys.readouterr().out


# ----------------------------------------------------------------------------- `snnc compile -o DIR`


@pytest.mark.parametrize("target", ["numba", "lava"])
def test_compiled_package_of_a_hostile_file_name_imports(target, workdir, tmp_path, capsys):
    if target == "lava" and not lava.lava_available():
        pytest.skip("lava-nc is not installed")
    folders = []
    for k, name in enumerate(ON_DISK.values()):   # a folder each: two names make the same package name
        path = tmp_path / name
        path.write_text(TINY, encoding="utf-8")
        folders.append(tmp_path / f"out{k}")
        assert main(["compile", str(path), "--target", target, "-o", str(folders[-1])]) == 0, \
            capsys.readouterr().err
    # each package imports in a fresh interpreter, its net module too, and its docstring shows
    # the file name (as the manifest has it) as text
    script = ("import importlib, sys\n"
              "for folder in sys.argv[1:]:\n"
              "    sys.path.insert(0, folder)\n"
              "    name = next(p for p in __import__('os').listdir(folder))\n"
              "    package = importlib.import_module(name)\n"
              "    importlib.import_module(name + '.' + package.NETWORKS['tiny'])\n"
              "    print(name.isidentifier(), package.MANIFEST['file'] in package.__doc__)\n"
              "    sys.path.remove(folder)\n"
              "    for m in [m for m in sys.modules if m.split('.')[0] == name]:\n"
              "        del sys.modules[m]\n")
    done = subprocess.run([PYTHON, "-c", script, *map(str, folders)], capture_output=True, text=True,
                          cwd=workdir, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["True True"] * len(ON_DISK)
    assert [json.loads(next(f.iterdir()).joinpath("manifest.json").read_text())["file"] for f in folders] \
        == list(ON_DISK.values())
    for folder in folders:
        for py in next(folder.iterdir()).glob("*.py"):
            ast.parse(py.read_text(encoding="utf-8"))


@pytest.mark.parametrize("target", ["numba", "lava"])
@pytest.mark.parametrize("name", [*TEXT_ONLY.values()], ids=[*TEXT_ONLY])
def test_emitted_package_of_a_name_without_a_file_is_inert(target, name, workdir, tmp_path):
    """What no file can be named (NUL, a lone surrogate) still reaches emit() through an IR."""
    backend = {"numba": nb, "lava": lava}[target]
    if target == "lava" and not lava.lava_available():
        pytest.skip("lava-nc is not installed")
    folder = backend.emit(_ir(name), None, tmp_path / "out")
    assert folder.name.isidentifier()
    init = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    assert name.rsplit("/", 1)[-1] in ast.get_docstring(init, clean=False)
    for py in folder.glob("*.py"):
        module = ast.parse(py.read_text(encoding="utf-8"))
        assert not any(_is_payload(node) for node in ast.walk(module)), py.name
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["file"] == name.rsplit("/", 1)[-1]
