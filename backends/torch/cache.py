"""Generated modules as files named by the hash of their text, imported from there.

Generation takes milliseconds, so nothing is skipped on a hit; the file exists so that the
generated code is a real module: tracebacks and `inspect` show its lines, torch.compile can read
it, and a user can open it. The key is SHA-256 of (source, snnlang version, interface format).
Writes go to a temporary file and `os.replace`, so concurrent processes never see a partial
file. An entry whose text differs from its key (edited, truncated) is never run:
snnlang.cache.import_verified compiles the bytes whose SHA-256 it checked, and a mismatch
replaces the file with a CacheWarning. The folder is `platformdirs.user_cache_dir("snnlang")/torch`,
or `$SNNLANG_CACHE_DIR/torch` (a private temporary folder if that cannot be written or is not
private: snnlang.cache). torch.compile's own caches (inductor, outside this folder) are torch's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

from snnlang import cache as _cache
from snnlang.cache import load_generated


def cache_dir() -> Path:
    return _cache.cache_dir("torch")


def key_of(source: str, version: str, fmt: int) -> str:
    h = hashlib.sha256()
    for part in (source, version, str(fmt)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def load(source: str, version: str, fmt: int, folder: Path | None = None) -> ModuleType:
    """The module for `source`, from the cache folder (snnlang.cache.load_generated: the file
    is run only when its text is exactly `source`)."""
    path = (folder or cache_dir()) / f"snn_{key_of(source, version, fmt)[:32]}.py"
    return load_generated(path, source, f"snnlang_torch_{path.stem}", "torch")
