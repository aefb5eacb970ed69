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
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType


def cache_dir() -> Path:
    base = os.environ.get("SNNLANG_CACHE_DIR")
    if not base:
        import platformdirs
        base = platformdirs.user_cache_dir("snnlang")
    return Path(base) / "torch"


def key_of(source: str, version: str, fmt: int) -> str:
    h = hashlib.sha256()
    for part in (source, version, str(fmt)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _write(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(source)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _import(path: Path) -> ModuleType:
    name = f"snnlang_torch_{path.stem}"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


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
