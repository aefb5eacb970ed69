"""Generated Lava modules stored by content hash and imported from there.

The key is SHA-256 of (generated source, snnlang version, module format): seeds, batch sizes
and tags (runtime values) never cause new code, any change of the model or the compiler does.
An entry is `<cache>/lava/snn_<key>.py`, written atomically; an entry whose text does not match
(truncated, edited) is never run: snnlang.cache.import_verified compiles the bytes whose SHA-256
it checked, and a mismatch replaces the file with a CacheWarning. Lava never searches this
folder for ProcessModels: the host names every custom process's model explicitly
(Loihi2SimCfg's exception map). Lava's own compiler cache (a pickle) is off by default and
snnlang does not turn it on.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

from snnlang import cache as _cache
from snnlang.cache import load_generated

from .gen_module import FORMAT

PREFIX = "snn_"


def cache_dir() -> Path:
    return _cache.cache_dir("lava")


def key_of(source: str, version: str) -> str:
    h = hashlib.sha256()
    for part in (source, version, str(FORMAT)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def load(source: str, version: str, folder: Path | None = None) -> ModuleType:
    """The module for `source`, from the cache folder (snnlang.cache.load_generated: the file
    is run only when its text is exactly `source`)."""
    path = (folder or cache_dir()) / f"{PREFIX}{key_of(source, version)[:32]}.py"
    return load_generated(path, source, f"snnlang_lava_{path.stem}", "lava")
