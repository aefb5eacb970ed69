"""Where snnlang keeps what it can rebuild: `$SNNLANG_CACHE_DIR` or the user cache directory.

Everything under it is derived data, safe to delete at any time. Writers go through
`atomic_write`, so two processes filling the same entry both leave a complete file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
