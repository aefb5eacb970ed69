"""The compile cache: generated modules stored by content hash and imported from there.

The key is SHA-256 of (generated source, snnlang version, host interface format), so parameters,
seeds, batch sizes and dtypes (all runtime values) never cause new code, and any change of the
model or the compiler does. An entry is `<dir>/snn_<key>.py`; numba's own `cache=True` then keeps
the compiled machine code in `<dir>/__pycache__`, which makes a second process fast.

Writes go to a temporary file in the same folder followed by `os.replace`, so two processes that
compile the same network at once both end with the complete file. An entry whose text does not
match its key (a truncated or edited file) or that fails to import is deleted and written again.
The folder is `platformdirs.user_cache_dir("snnlang")/numba`, or `$SNNLANG_CACHE_DIR/numba`
(a private temporary folder if that cannot be written).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

from snnlang.cache import atomic_write, cache_root, import_file

PREFIX = "snn_"


def cache_dir() -> Path:
    return cache_root() / "numba"


def key_of(source: str, version: str, fmt: int) -> str:
    h = hashlib.sha256()
    for part in (source, version, str(fmt)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def entry_path(key: str, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"{PREFIX}{key[:32]}.py"


def _write(path: Path, source: str) -> None:
    atomic_write(path, source.encode("utf-8"))


def _remove(path: Path) -> None:
    """Delete an entry and numba's compiled code for it."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    pycache = path.parent / "__pycache__"
    if pycache.is_dir():
        for f in pycache.glob(path.stem + ".*"):
            try:
                f.unlink()
            except OSError:
                pass


def _import(path: Path) -> ModuleType:
    return import_file(path, f"snnlang_numba_{path.stem}")


class CacheStats:
    """Counters for tests and `snnc`: how the last lookups went."""

    hits = 0
    misses = 0
    repaired = 0


def load(source: str, version: str, fmt: int, folder: Path | None = None) -> ModuleType:
    """The module for `source`: from the cache when present and sound, else written there first."""
    key = key_of(source, version, fmt)
    path = entry_path(key, folder)
    sound = False
    if path.is_file():
        try:
            sound = path.read_text(encoding="utf-8") == source
        except (OSError, UnicodeDecodeError):
            sound = False
        if not sound:
            CacheStats.repaired += 1
            _remove(path)
    if sound:
        try:
            module = _import(path)
            CacheStats.hits += 1
            return module
        except Exception:   # noqa: BLE001 - an unimportable entry is rebuilt below
            CacheStats.repaired += 1
            _remove(path)
    CacheStats.misses += 1
    try:
        _write(path, source)
    except OSError:   # an unwritable cache folder: compile from a private temporary one instead
        path = entry_path(key, Path(tempfile.mkdtemp(prefix="snnlang-numba-")))
        _write(path, source)
    return _import(path)


def _index_path(name: str, folder: Path | None) -> Path:
    return (folder or cache_dir()) / "index" / f"{name}.key"


def write_index(name: str, module: ModuleType, folder: Path | None = None) -> None:
    """Remember which entry `name` (an IR fingerprint and network) compiled to."""
    try:
        atomic_write(_index_path(name, folder), Path(module.__file__).stem.encode())
    except OSError:
        pass


def load_indexed(name: str, fmt: int, folder: Path | None = None) -> ModuleType | None:
    """The module an earlier `write_index(name, ...)` recorded, if it is still there and imports
    with the same host format; else None (the caller regenerates and re-indexes).
    The index is written only after its module was verified against its source, and the IR
    fingerprint covers the model and the compiler version, so the entry is the one `load` of the
    regenerated source would return."""
    try:
        stem = _index_path(name, folder).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    path = (folder or cache_dir()) / f"{stem}.py"
    if not (stem.startswith(PREFIX) and path.is_file()):
        return None
    try:
        module = _import(path)
    except Exception:   # noqa: BLE001 - a broken entry: `load` repairs it
        return None
    if getattr(module, "FORMAT", None) != fmt:
        return None
    CacheStats.hits += 1
    return module


def clear(folder: Path | None = None) -> None:
    """Remove every cached module (and numba's compiled code)."""
    folder = folder or cache_dir()
    if folder.is_dir():
        shutil.rmtree(folder)
