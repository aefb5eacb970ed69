"""The folder `snnc compile FILE -o DIR` writes, DIR/<name>, written without harming what is there.

A package is built in a fresh folder next to DIR/<name> (so on the same file system) and only
then takes its place: the old folder is renamed away, the new one renamed in, the old one
deleted. A kill while building leaves the previous package as it was (and a `.<name>.snnc-*`
folder to delete); the two renames leave either package whole, never a mix of two versions.

What is replaced without asking: nothing, an empty folder, or a package snnc wrote that nobody
changed since (its manifest.json says `written_by: snnc compile` and lists every file with its
SHA-256). Anything else (a user's own host.py, a folder of other files, a symbolic link) is
refused unless `force`, and even then a link is replaced, never written through. Symbolic links
are never followed: not DIR/<name>, not a link inside it (only the link is deleted), and DIR
itself may not be one.

A package whose name would shadow a module it or its user imports (`numpy.snn` would make a
package `numpy`) is refused: the name is the model file's stem, so the fix is to rename the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from snnlang.errors import UserError

WRITTEN_BY = "snnc compile"

# what the written packages and their users import besides the standard library: a package of
# one of these names would be imported in its place (or hide it), installed here or not
DEPENDENCIES = frozenset({"numpy", "numba", "llvmlite", "torch", "lava", "scipy", "sympy", "lark",
                          "matplotlib", "snnlang", "snnlang_backends"})


class PackageError(UserError):
    """DIR/<name> cannot be written safely; the message says why and what to do."""


def check_name(name: str, file: str, folder: Path) -> None:
    """Refuse a package name that shadows a standard, dependency or installed module (one found
    inside `folder` itself, an earlier build of this package, does not count)."""
    clash = None
    if name in sys.stdlib_module_names:
        clash = "a module of Python's standard library"
    elif name in DEPENDENCIES:
        clash = "a library the compiled package or snnlang needs"
    else:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):   # a broken installed package still takes the name
            spec, clash = None, "an installed module"
        if spec is not None:
            origin = spec.origin or next(iter(spec.submodule_search_locations or ()), None)
            if origin is None or not _inside(Path(origin), folder):
                clash = "an installed module"
    if clash:
        raise PackageError(f"the package would be named `{name}` (after the model file {Path(file).name!r}), "
                           f"which is {clash}: importing it would shadow that module. Rename the model "
                           f"file, e.g. to my_{name}.snn, and compile again")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.absolute().relative_to(folder.absolute())
    except ValueError:
        return False
    return True


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write folder/manifest.json, last: `manifest` plus what marks the package as snnc's, the
    SHA-256 of every other file in `folder`, so a later compile sees whether it may replace it."""
    files = {p.name: _digest(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.json"}
    data = dict(manifest, package={"written_by": WRITTEN_BY, "files": files})
    (folder / "manifest.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _not_ours(folder: Path) -> list[str]:
    """The entries of `folder` (a real folder) that are not files snnc wrote there, unchanged:
    all of them when its manifest.json is not snnc's."""
    entries = sorted(folder.iterdir())
    manifest = folder / "manifest.json"
    files = None
    if not manifest.is_symlink() and manifest.is_file():
        try:
            mark = json.loads(manifest.read_text(encoding="utf-8"))["package"]
            if mark["written_by"] == WRITTEN_BY:
                files = dict(mark["files"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if files is None:
        return [p.name for p in entries]
    out = []
    for entry in entries:
        if entry.name == "__pycache__" and entry.is_dir() and not entry.is_symlink():
            continue        # Python's, written when the package was imported
        if entry.name == "manifest.json":
            continue
        if entry.is_symlink() or not entry.is_file() or files.get(entry.name) != _digest(entry):
            out.append(entry.name)
    return out


def _check_target(folder: Path, force: bool) -> None:
    if force or not os.path.lexists(folder):
        return
    if folder.is_symlink():
        raise PackageError(f"{folder} is a symbolic link: snnc compile does not write through links. Remove "
                           "it, choose another -o DIR, or pass --force to replace the link itself (what it "
                           "points to is left alone)")
    if not folder.is_dir():
        raise PackageError(f"{folder} exists and is not a folder: remove it, choose another -o DIR, or pass "
                           "--force to replace it")
    foreign = _not_ours(folder)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise PackageError(f"{folder} holds files snnc compile did not write, or has changed since ({shown}); "
                           "not replacing it. Choose another -o DIR, or pass --force to replace the whole "
                           "folder")


def _check_parent(out_dir: Path) -> None:
    if out_dir.is_symlink():
        raise PackageError(f"-o {out_dir} is a symbolic link: snnc compile does not write through links. "
                           f"Pass the folder it points to, {os.path.realpath(out_dir)}, instead")
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise PackageError(f"-o {out_dir} is not a folder")


@contextmanager
def staged(folder: Path, force: bool = False) -> Iterator[Path]:
    """A fresh empty folder to write the package into; when the block ends without an error it
    replaces `folder` (see the module's docstring). Raises PackageError, before anything is
    written, when `folder` may not be replaced."""
    folder = Path(folder)
    out_dir = folder.parent
    _check_parent(out_dir)
    _check_target(folder, force)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # the name cut short: a name near the file system's limit still leaves room for the suffix
        new = Path(tempfile.mkdtemp(prefix=f".{folder.name[:64]}.snnc-new-", dir=out_dir))
    except OSError as exc:
        raise PackageError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(new, 0o777 & ~mask)        # mkdtemp's folder is private; a package is not
        yield new
        _check_target(folder, force)        # again: it may have changed while we built
        _replace(folder, new)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


def _replace(folder: Path, new: Path) -> None:
    if not os.path.lexists(folder):
        _rename(new, folder)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{folder.name[:64]}.snnc-old-", dir=folder.parent))
    aside = old / "package"
    try:
        _rename(folder, aside)              # a link is moved as a link
    except BaseException:
        os.rmdir(old)
        raise
    try:
        _rename(new, folder)
    except BaseException:
        try:
            os.rename(aside, folder)
        except OSError:                     # keep it where it is: never delete the only copy
            raise PackageError(f"cannot move the new package into {folder}, nor the previous one back: "
                               f"the previous one is in {aside}") from None
        os.rmdir(old)
        raise
    try:
        shutil.rmtree(old)                  # unlinks links inside, never follows them
    except OSError as exc:
        import warnings
        warnings.warn(f"wrote {folder}, but the previous package in {old} could not be deleted: "
                      f"{exc.strerror or exc}", stacklevel=3)


def _rename(src: Path, dst: Path) -> None:
    try:
        os.rename(src, dst)
    except OSError as exc:
        raise PackageError(f"cannot move {src} to {dst}: {exc.strerror or exc}") from None


__all__ = ["PackageError", "WRITTEN_BY", "check_name", "staged", "write_manifest"]
