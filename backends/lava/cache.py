"""Generated Lava modules stored by content hash and imported from there.

The key is SHA-256 of (generated source, snnlang version, module format): seeds, batch sizes
and tags (runtime values) never cause new code, any change of the model or the compiler does.
An entry is `<cache>/lava/snn_<key>.py`, written atomically; an entry whose text does not match
(truncated, edited) is written again. Lava never searches this folder for ProcessModels: the
host names every custom process's model explicitly (Loihi2SimCfg's exception map).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from types import ModuleType

from snnlang.cache import atomic_write, cache_root, import_file

from .gen_module import FORMAT

PREFIX = "snn_"


def cache_dir() -> Path:
    return cache_root() / "lava"


def key_of(source: str, version: str) -> str:
    h = hashlib.sha256()
    for part in (source, version, str(FORMAT)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _import(path: Path) -> ModuleType:
    return import_file(path, f"snnlang_lava_{path.stem}")


def load(source: str, version: str, folder: Path | None = None) -> ModuleType:
    """The module for `source`: from the cache when present and sound, else written there first."""
    path = (folder or cache_dir()) / f"{PREFIX}{key_of(source, version)[:32]}.py"
    try:
        sound = path.is_file() and path.read_text(encoding="utf-8") == source
    except (OSError, UnicodeDecodeError):
        sound = False
    if not sound:
        try:
            atomic_write(path, source.encode("utf-8"))
        except OSError:   # an unwritable cache folder: a private temporary one instead
            path = Path(tempfile.mkdtemp(prefix="snnlang-lava-")) / path.name
            atomic_write(path, source.encode("utf-8"))
    return _import(path)
