"""Where snnlang keeps what it can rebuild: `$SNNLANG_CACHE_DIR` or the user cache directory.

Everything under it is derived data, safe to delete at any time. Writers go through
`atomic_write`, so two processes filling the same entry both leave a complete file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType


def cache_root() -> Path:
    """`$SNNLANG_CACHE_DIR`, else platformdirs' user cache folder for snnlang."""
    base = os.environ.get("SNNLANG_CACHE_DIR")
    if not base:
        import platformdirs
        base = platformdirs.user_cache_dir("snnlang")
    return Path(base)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def import_file(path: Path, name: str) -> ModuleType:
    """Import the generated module at `path` as `name` (once per process: a second call returns
    the module already imported from that file). A module that fails to execute is not kept."""
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(path):
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
