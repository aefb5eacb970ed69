"""Where snnlang keeps what it can rebuild: `$SNNLANG_CACHE_DIR` or the user cache directory.

Everything under it is derived data, safe to delete at any time. Writers go through
`atomic_write`, so two processes filling the same entry both leave a complete file.

The cache must never be a way to run code that snnlang did not generate itself:

* The root and its folders must belong to the current user and not be writable by group or
  others (checked with `os.stat` on every use; skipped on Windows, whose mode bits say nothing).
  Otherwise the whole cache is replaced, for this process, by a private temporary folder and
  a `CacheWarning` says so once: nothing is loaded from a folder someone else could write.
* Entries that are pickles (the lowered IR, numba's machine code, the parser's LALR tables)
  are signed with HMAC-SHA256 under a per-user secret key, `<root>/secret.key` (mode 0600, created
  atomically on first use), and verified before they are unpickled (`sign`, `verify`).
  The signature also covers the entry's name, so a valid entry cannot be replayed as another.
* Generated modules are imported only through `import_verified`, which hashes the bytes it
  read and compiles those same bytes, so the text that runs is the text whose SHA-256 the
  caller expected.

Not covered here: caches other libraries keep outside this root (torch.compile's inductor
cache, numba's cache of code outside snnlang). Someone who can write files as the current user can change snnlang itself,
so that is not a boundary the cache tries to defend.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import importlib.util
import os
import shutil
import stat
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

KEY_FILE = "secret.key"
# folders other modules create under the root; checked with it so that a foreign or
# group-writable one (e.g. made under umask 002) disables the cache before anything is read
KNOWN_FOLDERS = ("ir", "lark", "numba", "numba/__pycache__", "numba/index", "torch", "lava")
_SIGNED = b"snnlang-hmac-sha256\n"


class CacheWarning(UserWarning):
    """Something in the cache was unsafe or damaged: it was skipped or rebuilt."""


class TamperedEntry(ValueError):
    """A cache entry whose signature or content hash does not match: never loaded."""


_unsafe: dict[str, Path] = {}        # configured root -> the private folder used instead
_private_root: Path | None = None
_warned: set[str] = set()
_keys: dict[str, tuple[tuple[int, int], bytes]] = {}
_process_key = os.urandom(32)       # when no key file can be kept: entries live one process


def warn_once(tag: str, message: str) -> None:
    """A `CacheWarning` the first time `tag` is seen in this process."""
    if tag not in _warned:
        _warned.add(tag)
        warnings.warn(message, CacheWarning, stacklevel=3)


def _configured_root() -> Path:
    base = os.environ.get("SNNLANG_CACHE_DIR")
    if not base:
        import platformdirs
        base = platformdirs.user_cache_dir("snnlang")
    return Path(base)


def unsafe_reason(folder: Path) -> str | None:
    """Why `folder` must not be trusted (another owner, writable by group or others), or None.
    A folder that does not exist is safe: there is nothing in it to load."""
    if not hasattr(os, "geteuid"):
        return None
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"cannot be inspected ({e.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    if st.st_uid != os.geteuid():
        return f"belongs to user id {st.st_uid}, not to the current user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by {'group' if st.st_mode & stat.S_IWGRP else 'others'} (mode {st.st_mode & 0o777:o})"
    return None


def _private() -> Path:
    global _private_root
    if _private_root is None or not _private_root.is_dir():
        _private_root = Path(tempfile.mkdtemp(prefix="snnlang-cache-"))
        atexit.register(shutil.rmtree, _private_root, True)
    return _private_root


def _distrust(root: Path, folder: Path, reason: str) -> Path:
    _unsafe[str(root)] = _private()
    warn_once(f"unsafe:{root}", f"snnlang cache: {folder} {reason}; the cache there is not used in this "
              f"process (a private temporary folder is used instead). Make it yours and "
              f"`chmod go-w` it, or set SNNLANG_CACHE_DIR to a private folder.")
    return _unsafe[str(root)]


def cache_root() -> Path:
    """`$SNNLANG_CACHE_DIR`, else platformdirs' user cache folder for snnlang; created private
    (0700) when missing. Where it, or a folder in it, could be written by someone else: a private
    temporary folder for the rest of the process, with a one-time `CacheWarning`."""
    root = _configured_root()
    if str(root) in _unsafe:
        return _unsafe[str(root)]
    if not root.exists():
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
            root.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            return root          # unusable: writers fall back, readers find nothing
    for folder in (root, *(root / sub for sub in KNOWN_FOLDERS)):
        reason = unsafe_reason(folder)
        if reason is not None:
            return _distrust(root, folder, reason)
    try:    # the parser makes it with the umask's mode (group-writable under umask 002)
        (root / "lark").mkdir(mode=0o700, exist_ok=True)
    except OSError:
        pass
    return root


def cache_dir(*parts: str) -> Path:
    """`cache_root()/<parts>`, each level created private (0700) and checked like the root."""
    root = cache_root()
    folder = root
    for part in parts:
        folder = folder / part
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            return root.joinpath(*parts)      # unwritable: the caller's writes fall back
        reason = unsafe_reason(folder)
        if reason is not None:
            if root == _private_root:
                raise OSError(f"{folder} {reason}")
            _distrust(_configured_root(), folder, reason)
            return cache_dir(*parts)
    return folder


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------- signed entries


def _read_key(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if hasattr(os, "geteuid") and (st.st_uid != os.geteuid() or st.st_mode & 0o077):
            return None
        key = fh.read()
    return key if len(key) == 32 else None


def secret_key() -> bytes:
    """The per-user key that signs this cache's pickles: `<root>/secret.key`, made on first use
    (written 0600 to a temporary file, then linked into place, so a reader never sees half a
    key and two processes agree on one). A key file that is not private is replaced. Where none
    can be kept, a key for this process only (its entries are then never reused)."""
    root = cache_root()
    path = root / KEY_FILE
    try:
        st = os.stat(path)
        stamp = (st.st_ino, st.st_ctime_ns)
    except OSError:
        stamp = None
    known = _keys.get(str(path))
    if stamp is not None and known is not None and known[0] == stamp:
        return known[1]
    for _ in range(3):
        key = _read_key(path)
        if key is not None:
            st = os.stat(path)
            _keys[str(path)] = ((st.st_ino, st.st_ctime_ns), key)
            return key
        if path.exists():
            warn_once(f"key:{path}", f"snnlang cache: {path} is not a private 32-byte key; replacing it "
                      f"(entries signed with it will be rebuilt)")
        try:
            fd, tmp = tempfile.mkstemp(prefix=".key.", dir=root)      # mode 0600
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(os.urandom(32))
                if path.exists():
                    os.replace(tmp, path)
                else:
                    try:
                        os.link(tmp, path)       # fails if another process made one first
                    except FileExistsError:
                        pass
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError:
            break
    return _process_key


def _tag(key: bytes, label: str, data: bytes) -> bytes:
    return hmac.new(key, label.encode("utf-8", "surrogatepass") + b"\0" + data, hashlib.sha256).digest()


def sign(data: bytes, label: str) -> bytes:
    """`data` with an HMAC-SHA256 over (label, data) in front; `label` names the entry (its key
    or file name) so that a signed entry is valid only where it was written."""
    return _SIGNED + _tag(secret_key(), label, data) + data


def verify(blob: bytes, label: str) -> bytes:
    """The data `sign(data, label)` wrapped, or TamperedEntry when the signature does not match."""
    head = len(_SIGNED)
    if len(blob) < head + 32 or not blob.startswith(_SIGNED):
        raise TamperedEntry(f"{label}: not a signed cache entry")
    data = blob[head + 32:]
    if not hmac.compare_digest(blob[head:head + 32], _tag(secret_key(), label, data)):
        raise TamperedEntry(f"{label}: signature does not match")
    return data


# ---------------------------------------------------------------------- generated modules


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_verified(path: Path, name: str, expected_sha256: str) -> ModuleType:
    """Import the generated module at `path` as `name`, if the SHA-256 of its bytes is
    `expected_sha256`; else TamperedEntry, and nothing of the file runs. The bytes that were
    hashed are the bytes compiled (the file is not read again), so a file replaced in between
    cannot slip through. Once per process: a second call returns the module already imported
    from that file with that hash. A module that fails to execute is not kept."""
    module = sys.modules.get(name)
    if (module is not None and getattr(module, "__file__", None) == str(path)
            and getattr(module, "__snnlang_sha256__", None) == expected_sha256):
        return module
    data = path.read_bytes()
    if not hmac.compare_digest(sha256_hex(data), expected_sha256):
        raise TamperedEntry(f"{path}: its text does not match the hash it is stored under")
    code = compile(data, str(path), "exec", dont_inherit=True)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    module.__snnlang_sha256__ = expected_sha256
    return module


def load_generated(path: Path, source: str, module_name: str, backend: str) -> ModuleType:
    """The module of generated `source`, imported from `path` when the file there has exactly
    this text (checked on the bytes that are compiled), else written there first. A file with
    other text (edited, truncated) is never run: it is replaced, with a CacheWarning. An
    unwritable folder falls back to a private temporary one."""
    data = source.encode("utf-8")
    sha256 = sha256_hex(data)
    if path.is_file():
        try:
            return import_verified(path, module_name, sha256)
        except TamperedEntry as e:
            warnings.warn(f"snnlang {backend} cache: {e}; discarded and rebuilt", CacheWarning, stacklevel=3)
        except OSError:   # unreadable: rebuilt below
            pass
    try:
        atomic_write(path, data)
    except OSError:
        path = Path(tempfile.mkdtemp(prefix=f"snnlang-{backend}-")) / path.name
        atomic_write(path, data)
    return import_verified(path, module_name, sha256)
