"""`snnc compile FILE -o DIR` does not destroy the user's files (backends/package_dir.py).

It used to write straight into DIR/<name>: over a user's own host.py, __init__.py or
manifest.json, through symbolic links out of DIR, and a kill midway left a package mixing two
versions. Now the package is built aside and renamed in; only an unchanged package snnc wrote
is replaced without --force; links are never written through; names that shadow a module
are refused. Every refusal is one message (exit 1), never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from snnlang.cli import main
from snnlang_backends import lava
from snnlang_backends import package_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
from tiny_models import TINY  # noqa: E402


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "tiny_model.snn"
    path.write_text(TINY, encoding="utf-8")
    return path


def compile_(model: Path, out: Path, *extra: str) -> int:
    return main(["compile", str(model), "-o", str(out), *extra])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def refused(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal" not in err, err
    for word in words:
        assert word in err, err
    return err


def leftovers(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if ".snnc-" in p.name]


# ----------------------------------------------------------------------------- what is replaced


def test_a_package_snnc_wrote_is_replaced(model, tmp_path, capsys):
    out = tmp_path / "out"
    assert compile_(model, out) == 0
    package = out / "tiny_model"
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["package"]["written_by"] == "snnc compile"
    assert set(manifest["package"]["files"]) == {"__init__.py", "host.py", "net_tiny.py"}
    (package / "__pycache__").mkdir()                    # importing it leaves this: still ours
    (package / "__pycache__" / "host.cpython-311.pyc").write_bytes(b"x")
    model.write_text(TINY.replace("Leaky(3)", "Leaky(4)"), encoding="utf-8")
    assert compile_(model, out) == 0
    assert "Leaky" in (package / "net_tiny.py").read_text() and not (package / "__pycache__").exists()
    assert json.loads((package / "manifest.json").read_text())["networks"]["tiny"]["populations"][1]["size"] == 4
    assert leftovers(out) == []


def test_an_empty_folder_is_filled(model, tmp_path):
    (tmp_path / "out" / "tiny_model").mkdir(parents=True)
    assert compile_(model, tmp_path / "out") == 0
    assert (tmp_path / "out" / "tiny_model" / "__init__.py").is_file()


@pytest.mark.parametrize("name", ["host.py", "__init__.py", "manifest.json", "notes.txt"])
def test_a_folder_of_the_users_files_is_refused_and_kept(name, model, tmp_path, capsys):
    folder = tmp_path / "out" / "tiny_model"
    folder.mkdir(parents=True)
    (folder / name).write_text("the user's own work\n")
    assert compile_(model, tmp_path / "out") == 1
    refused(capsys, "did not write", "--force", name)
    assert snapshot(folder) == {name: b"the user's own work\n"}
    assert leftovers(tmp_path / "out") == []


def test_a_changed_file_or_an_added_one_makes_the_package_the_users(model, tmp_path, capsys):
    out = tmp_path / "out"
    assert compile_(model, out) == 0
    package = out / "tiny_model"
    host = package / "host.py"
    host.write_text(host.read_text() + "# my fix\n")
    assert compile_(model, out) == 1
    refused(capsys, "--force")
    assert host.read_text().endswith("# my fix\n")
    host.write_text(host.read_text()[:-len("# my fix\n")])     # undone: ours again
    (package / "mine.py").write_text("x = 1\n")
    assert compile_(model, out) == 1
    assert (package / "mine.py").read_text() == "x = 1\n"


def test_force_replaces_a_folder_snnc_did_not_write(model, tmp_path, capsys):
    folder = tmp_path / "out" / "tiny_model"
    folder.mkdir(parents=True)
    (folder / "host.py").write_text("mine\n")
    assert compile_(model, tmp_path / "out", "--force") == 0
    assert "Simulation" in (folder / "host.py").read_text()
    assert json.loads((folder / "manifest.json").read_text())["package"]["written_by"] == "snnc compile"


def test_a_file_where_the_package_goes_is_refused(model, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "tiny_model").write_text("a file\n")
    assert compile_(model, tmp_path / "out") == 1
    refused(capsys, "not a folder", "--force")
    assert (tmp_path / "out" / "tiny_model").read_text() == "a file\n"
    assert compile_(model, tmp_path / "out", "--force") == 0
    assert (tmp_path / "out" / "tiny_model" / "__init__.py").is_file()


def test_a_name_near_the_file_systems_limit_still_compiles(tmp_path):
    path = tmp_path / ("m" * 240 + ".snn")       # the staging folder's name is longer than the package's
    path.write_text(TINY, encoding="utf-8")
    assert compile_(path, tmp_path / "out") == 0 and compile_(path, tmp_path / "out") == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["m" * 240]


def test_force_is_in_the_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["compile", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--force" in text and "replace DIR/NAME even if snnc did not write it" in text


# ----------------------------------------------------------------------------- symbolic links


def test_a_dir_that_is_a_link_is_refused(model, tmp_path, capsys):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "out").symlink_to(real, target_is_directory=True)
    for extra in ((), ("--force",)):
        assert compile_(model, tmp_path / "out", *extra) == 1
        refused(capsys, "symbolic link", str(real))
        assert list(real.iterdir()) == []


def test_a_package_folder_that_is_a_link_is_never_written_through(model, tmp_path, capsys):
    outside = tmp_path / "users_project"
    outside.mkdir()
    (outside / "host.py").write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "tiny_model").symlink_to(outside, target_is_directory=True)
    assert compile_(model, out) == 1
    refused(capsys, "symbolic link", "--force")
    assert snapshot(outside) == {"host.py": b"precious\n"}
    assert compile_(model, out, "--force") == 0             # the link itself is replaced
    assert not (out / "tiny_model").is_symlink() and (out / "tiny_model" / "__init__.py").is_file()
    assert snapshot(outside) == {"host.py": b"precious\n"}


def test_a_link_inside_the_package_is_never_written_through(model, tmp_path, capsys):
    out = tmp_path / "out"
    assert compile_(model, out) == 0
    precious = tmp_path / "precious.py"
    precious.write_text("precious\n")
    host = out / "tiny_model" / "host.py"
    host.unlink()
    host.symlink_to(precious)
    assert compile_(model, out) == 1
    refused(capsys, "--force")
    assert compile_(model, out, "--force") == 0
    assert not host.is_symlink() and "Simulation" in host.read_text()
    assert precious.read_text() == "precious\n"


# ----------------------------------------------------------------------------- names that shadow modules


@pytest.mark.parametrize("stem", ["numpy", "os", "torch", "json", "numba", "snnlang"])
def test_a_name_that_shadows_a_module_is_refused(stem, tmp_path, capsys):
    path = tmp_path / f"{stem}.snn"
    path.write_text(TINY, encoding="utf-8")
    assert compile_(path, tmp_path / "out") == 1
    refused(capsys, f"`{stem}`", "shadow", "Rename the model file", f"my_{stem}.snn")
    assert not (tmp_path / "out" / stem).exists()


def test_a_name_found_only_in_the_target_folder_is_no_clash(model, tmp_path, monkeypatch):
    """A second compile with DIR on sys.path finds the first build: that is not a clash."""
    out = tmp_path / "out"
    assert compile_(model, out) == 0
    monkeypatch.syspath_prepend(str(out))
    assert compile_(model, out) == 0


# ----------------------------------------------------------------------------- interrupted builds


def test_an_interrupted_build_leaves_the_previous_package_intact(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert compile_(model, out) == 0
    before = snapshot(out / "tiny_model")
    model.write_text(TINY.replace("Leaky(3)", "Leaky(5)"), encoding="utf-8")
    from snnlang_backends.numba import package

    def killed(*args, **kwargs):     # after the network modules were written, before the rest
        raise KeyboardInterrupt
    monkeypatch.setattr(package.shutil, "copyfile", killed)
    assert compile_(model, out) == 130
    assert snapshot(out / "tiny_model") == before
    assert leftovers(out) == []


def test_a_failed_swap_puts_the_previous_package_back(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert compile_(model, out) == 0
    before = snapshot(out / "tiny_model")
    model.write_text(TINY.replace("Leaky(3)", "Leaky(5)"), encoding="utf-8")
    rename, calls = os.rename, []

    def flaky(src, dst):             # the old package moves aside, the new one cannot move in
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return rename(src, dst)
    monkeypatch.setattr(package_dir.os, "rename", flaky)
    assert compile_(model, out) == 1
    refused(capsys, "cannot move", "No space left")
    assert snapshot(out / "tiny_model") == before
    assert leftovers(out) == []


def test_when_nothing_can_move_the_previous_package_is_kept_and_named(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert compile_(model, out) == 0
    before = snapshot(out / "tiny_model")
    rename, calls = os.rename, []

    def stuck(src, dst):             # moved aside; then neither the new one in nor the old one back
        calls.append(dst)
        if len(calls) >= 2:
            raise OSError(5, "Input/output error")
        return rename(src, dst)
    monkeypatch.setattr(package_dir.os, "rename", stuck)
    assert compile_(model, out) == 1
    err = refused(capsys, "nor the previous one back", "the previous one is in")
    kept = Path(err.split("the previous one is in ")[1].split()[0])
    assert snapshot(kept) == before


@pytest.mark.skipif(not lava.lava_available(), reason="lava-nc is not installed")
def test_lava_packages_follow_the_same_rules(model, tmp_path, capsys):
    out = tmp_path / "out"
    assert compile_(model, out, "--target", "lava") == 0
    assert compile_(model, out, "--target", "lava") == 0     # twice in one process (emit was shadowed)
    (out / "tiny_model" / "notes.txt").write_text("mine\n")
    assert compile_(model, out, "--target", "lava") == 1
    refused(capsys, "--force", "notes.txt")
    assert (out / "tiny_model" / "notes.txt").read_text() == "mine\n"
