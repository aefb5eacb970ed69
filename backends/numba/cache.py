"""The compile cache: generated modules stored by content hash and imported from there.

The key is SHA-256 of (generated source, snnlang version, host interface format, entry format),
so parameters, seeds, batch sizes and dtypes (all runtime values) never cause new code, and any
change of the model or the compiler does. An entry is `<dir>/snn_<key>.py`; numba's `cache=True`
then keeps the compiled machine code in `<dir>/__pycache__`, which makes a second process fast.

Writes go to a temporary file in the same folder followed by `os.replace`, so two processes that
compile the same network at once both end with the complete file. The folder is
`platformdirs.user_cache_dir("snnlang")/numba`, or `$SNNLANG_CACHE_DIR/numba` (a private
temporary folder if that cannot be written, or if it is not private: snnlang.cache).

What is loaded is verified first, because loading runs code:

* a module is imported only if the SHA-256 of its text is the one expected
  (snnlang.cache.import_verified: the bytes hashed are the bytes compiled). `load` expects the
  hash of the source it just generated; `load_indexed` the hash recorded in the index, whose
  entries are signed (HMAC-SHA256 under the user's cache key, bound to the index name). An
  edited or truncated module is deleted, with its machine code, and written again, with a
  `CacheWarning`;
* numba's own cache files (`.nbi` index, `.nbc` data) are pickles, and numba unpickles them
  unchecked. So every `cache=True` function of an imported module gets `_SignedFunctionCache`
  instead of numba's `FunctionCache`: the same files, signed with the same key and file name,
  verified before unpickling. A file that is unsigned, altered, truncated or unreadable is
  deleted (an index with all its data files) with a `CacheWarning`, and numba compiles anew.

Not protected: the machine code numba holds in memory, and numba's caches of functions outside
these modules. If numba's internals this relies on change, the file cache is switched off for
these modules (slower, never unverified) with a `CacheWarning`.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pickle
import shutil
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

from snnlang import cache as _cache
from snnlang.cache import CacheWarning, TamperedEntry, atomic_write, import_verified, sha256_hex, sign, verify

PREFIX = "snn_"
# part of the key: entries written before numba's files were signed are never looked up
ENTRY_FORMAT = 2


def cache_dir() -> Path:
    folder = _cache.cache_dir("numba")
    try:        # numba would make it with the umask's mode; private, so the folder check passes
        (folder / "__pycache__").mkdir(mode=0o700, exist_ok=True)
    except OSError:
        pass
    return folder


def key_of(source: str, version: str, fmt: int) -> str:
    h = hashlib.sha256()
    for part in (source, version, str(fmt), str(ENTRY_FORMAT)):
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
        for f in pycache.glob(glob.escape(path.stem) + ".*"):
            try:
                f.unlink()
            except OSError:
                pass


def _import(path: Path, sha256: str) -> ModuleType:
    module = import_verified(path, f"snnlang_numba_{path.stem}", sha256)
    protect(module)
    return module


class CacheStats:
    """Counters for tests and `snnc`: how the last lookups went."""

    hits = 0
    misses = 0
    repaired = 0


def _warn(message: str) -> None:
    warnings.warn(f"snnlang numba cache: {message}", CacheWarning, stacklevel=3)


def load(source: str, version: str, fmt: int, folder: Path | None = None) -> ModuleType:
    """The module for `source`: from the cache when present and sound, else written there first."""
    key = key_of(source, version, fmt)
    path = entry_path(key, folder)
    sha256 = sha256_hex(source.encode("utf-8"))
    if path.is_file():
        try:
            module = _import(path, sha256)
            CacheStats.hits += 1
            return module
        except TamperedEntry as e:
            _warn(f"{e}; discarded and rebuilt")
            CacheStats.repaired += 1
            _remove(path)
        except Exception:   # noqa: BLE001 - an unreadable or unimportable entry is rebuilt below
            CacheStats.repaired += 1
            _remove(path)
    CacheStats.misses += 1
    try:
        _write(path, source)
    except OSError:   # an unwritable cache folder: compile from a private temporary one instead
        path = entry_path(key, Path(tempfile.mkdtemp(prefix="snnlang-numba-")))
        _write(path, source)
    return _import(path, sha256)


def _index_path(name: str, folder: Path | None) -> Path:
    return (folder or cache_dir()) / "index" / f"{name}.key"


def write_index(name: str, module: ModuleType, folder: Path | None = None) -> None:
    """Remember which entry `name` (an IR fingerprint and network) compiled to, and the hash of
    its text, signed so that only this user's snnlang can point `load_indexed` at a module."""
    record = f"{Path(module.__file__).stem}\n{module.__snnlang_sha256__}".encode()
    try:
        atomic_write(_index_path(name, folder), sign(record, f"numba-index/{name}"))
    except OSError:
        pass


def load_indexed(name: str, fmt: int, folder: Path | None = None) -> ModuleType | None:
    """The module an earlier `write_index(name, ...)` recorded, if it is still there, has the
    recorded text and imports with the same host format; else None (the caller regenerates and
    re-indexes). The IR fingerprint in `name` covers the model and the compiler version, so the
    entry is the one `load` of the regenerated source would return."""
    index = _index_path(name, folder)
    try:
        blob = index.read_bytes()
    except OSError:
        return None
    try:
        stem, sha256 = verify(blob, f"numba-index/{name}").decode().split("\n")
    except (TamperedEntry, UnicodeDecodeError, ValueError) as e:
        _warn(f"index {index.name}: {e}; discarded")
        index.unlink(missing_ok=True)
        return None
    path = (folder or cache_dir()) / f"{stem}.py"
    if not (stem.startswith(PREFIX) and os.sep not in stem and path.is_file()):
        return None
    try:
        module = _import(path, sha256)
    except TamperedEntry as e:
        _warn(f"{e}; discarded and rebuilt")
        CacheStats.repaired += 1
        _remove(path)
        return None
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


# ---------------------------------------------------------------------- numba's own files


def protect(module: ModuleType) -> None:
    """Give every `cache=True` function of `module` the signed file cache. Runs right after the
    import, before anything is compiled (the generated modules compile lazily, on first call)."""
    from numba.core.caching import FunctionCache
    from numba.core.dispatcher import Dispatcher
    for obj in list(vars(module).values()):
        if isinstance(obj, Dispatcher) and type(getattr(obj, "_cache", None)) is FunctionCache:
            try:
                obj._cache = _signed_cache_class()(obj.py_func)
            except Exception as e:   # noqa: BLE001 - numba's internals moved: no file cache, not an unchecked one
                from numba.core.caching import NullCache
                obj._cache = NullCache()
                _cache.warn_once("numba-internals", f"snnlang numba cache: numba's file cache cannot be "
                                 f"verified with this numba ({e!r}); it is off for generated modules")


_SIGNED_CLASS = None


def _signed_cache_class() -> type:
    """numba's FunctionCache with index and data files that are signed and verified (built on
    first use, so that importing this module does not import numba)."""
    global _SIGNED_CLASS
    if _SIGNED_CLASS is not None:
        return _SIGNED_CLASS
    from numba.core.caching import FunctionCache, IndexDataCacheFile
    # numba reads and writes its files only through these: should one go, the overrides below
    # would be bypassed, so refuse (`protect` then turns the file cache off)
    for name in ("load", "save", "_load_index", "_save_index", "_load_data", "_save_data", "_dump",
                 "_open_for_write", "_data_path", "_index_name", "_cache_path", "_source_stamp", "_version"):
        if not hasattr(IndexDataCacheFile, name) and name not in IndexDataCacheFile.__init__.__code__.co_names:
            raise AttributeError(f"numba's IndexDataCacheFile has no {name}")

    class _SignedFiles(IndexDataCacheFile):
        def _discard(self, what: str, error: Exception, paths: list[str]) -> None:
            _warn(f"{what} ({error}); deleted, compiling anew")
            for p in paths:
                try:
                    os.unlink(p)
                except OSError:
                    pass

        def _load_index(self) -> dict:
            try:
                with open(self._index_path, "rb") as f:
                    blob = f.read()
            except FileNotFoundError:
                return {}
            try:
                version, stamp, overloads = pickle.loads(verify(blob, self._index_name))
                if not isinstance(overloads, dict):
                    raise TypeError("not an index")
            except Exception as e:   # noqa: BLE001 - altered, truncated, unsigned: never trusted
                base = self._index_name[:-len(".nbi")]
                data = glob.glob(os.path.join(glob.escape(self._cache_path), glob.escape(base) + ".*.nbc"))
                self._discard(f"index {self._index_path}", e, [self._index_path, *data])
                return {}
            if version != self._version or stamp != self._source_stamp:
                return {}       # stale: numba overwrites it
            return overloads

        def _save_index(self, overloads: dict) -> None:
            data = self._dump((self._version, self._source_stamp, overloads))
            with self._open_for_write(self._index_path) as f:
                f.write(sign(data, self._index_name))

        def _load_data(self, name: str):
            path = self._data_path(name)
            with open(path, "rb") as f:      # OSError: numba treats it as a miss
                blob = f.read()
            try:
                return pickle.loads(verify(blob, name))
            except Exception as e:   # noqa: BLE001 - as for the index
                self._discard(f"machine code {path}", e, [path])
                return None

        def _save_data(self, name: str, data) -> None:
            blob = sign(self._dump(data), name)
            with self._open_for_write(self._data_path(name)) as f:
                f.write(blob)

    class _SignedFunctionCache(FunctionCache):
        def __init__(self, py_func) -> None:
            super().__init__(py_func)
            self._cache_file = _SignedFiles(cache_path=self._cache_path, filename_base=self._impl.filename_base,
                                            source_stamp=self._impl.locator.get_source_stamp())

    _SIGNED_CLASS = _SignedFunctionCache
    return _SIGNED_CLASS
