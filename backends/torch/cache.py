"""Generated modules as files named by the hash of their text, imported from there.

Generation takes milliseconds, so nothing is skipped on a hit; the file exists so that the
generated code is a real module: tracebacks and `inspect` show its lines, torch.compile can read
it, and a user can open it. The key is SHA-256 of (source, snnlang version, interface format).
Writes go to a temporary file and `os.replace`, so concurrent processes never see a partial
file; an entry whose text differs from its key is rewritten. The folder is
`platformdirs.user_cache_dir("snnlang")/torch`, or `$SNNLANG_CACHE_DIR/torch` (a private
temporary folder if that cannot be written).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from types import ModuleType

from snnlang.cache import atomic_write, cache_root, import_file


def cache_dir() -> Path:
    return cache_root() / "torch"


def key_of(source: str, version: str, fmt: int) -> str:
    h = hashlib.sha256()
    for part in (source, version, str(fmt)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _write(path: Path, source: str) -> None:
    atomic_write(path, source.encode("utf-8"))


def _import(path: Path) -> ModuleType:
    return import_file(path, f"snnlang_torch_{path.stem}")


def load(source: str, version: str, fmt: int, folder: Path | None = None) -> ModuleType:
    """The module for `source`, written to the cache folder first unless it is already there intact."""
    key = key_of(source, version, fmt)
    path = (folder or cache_dir()) / f"snn_{key[:32]}.py"
    try:
        intact = path.is_file() and path.read_text(encoding="utf-8") == source
    except (OSError, UnicodeDecodeError):
        intact = False
    if not intact:
        try:
            _write(path, source)
        except OSError:   # an unwritable cache folder: a private temporary one instead
            path = Path(tempfile.mkdtemp(prefix="snnlang-torch-")) / path.name
            _write(path, source)
    return _import(path)
