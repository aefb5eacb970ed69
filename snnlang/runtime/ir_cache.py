"""Lowered models stored by content hash, so that compiling an unchanged model again
(in another process) skips the solvers' symbolic work.

The key is SHA-256 of (snnlang version, IR_FORMAT, the compiler's own sources, every source
file of the checked model by name and text): any change to the model, to a file it imports
or to the compiler (grammar, syntax, semantics, IR; so also during development, when the
version does not change) gives a new key. Parameters, seeds, batch sizes and dtypes are
runtime values and never part of the key.

Entries are pickles (ModelIR is a tree of frozen dataclasses holding sympy expressions, which
no safe format holds as cheaply) under `<cache root>/ir/`, written atomically and signed
(snnlang.cache.sign: HMAC-SHA256 under the user's secret key, bound to the entry's key). The
signature is checked before anything is unpickled, and only in a cache folder that belongs to
the user and that nobody else can write (snnlang.cache.cache_dir), so an entry someone else
wrote or edited is never unpickled: it is deleted with a CacheWarning and rebuilt. A truncated
or otherwise unreadable entry is rebuilt the same way.
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from functools import lru_cache
from pathlib import Path

from snnlang.cache import CacheWarning, TamperedEntry, atomic_write, cache_dir, sign, verify
from snnlang.ir.model import ModelIR
from snnlang.semantics.checker import CheckResult

IR_FORMAT = 3  # bump when snnlang/ir/model.py or the entry format changes shape


@lru_cache(maxsize=1)
def compiler_digest() -> str:
    """A hash of the code that turns text into IR (read once per process, ~1 ms)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    files = sorted([*root.glob("syntax/*.py"), *root.glob("semantics/*.py"), *root.glob("ir/*.py")])
    from snnlang.syntax.parser import grammar_text
    h.update(grammar_text().encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def key_of(checked: CheckResult) -> str:
    from snnlang import __version__
    h = hashlib.sha256(f"{__version__}\0{IR_FORMAT}\0{compiler_digest()}\0{checked.file}\0".encode())
    for name, text in sorted(checked.sources.texts().items()):
        h.update(name.encode("utf-8", "surrogatepass") + b"\0" + text.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def lower_cached(checked: CheckResult) -> ModelIR:
    """`snnlang.ir.lower.lower(checked)`, from the cache when this exact model was lowered before."""
    from dataclasses import replace

    from snnlang.ir.lower import lower
    key = key_of(checked)
    path = cache_dir("ir") / f"{key[:40]}.pickle"
    label = f"ir/{key}"
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except FileNotFoundError:
        pass
    except OSError:
        _discard(path)
    else:
        try:
            ir = pickle.loads(verify(blob, label))    # only what this user's key signed is unpickled
        except TamperedEntry as e:
            warnings.warn(f"snnlang IR cache: {e}; rebuilding it", CacheWarning, stacklevel=2)
            ir = None
        except Exception:  # noqa: BLE001 - signed by us but unreadable (another Python, sympy): rebuild
            ir = None
        if isinstance(ir, ModelIR) and ir.fingerprint == key:
            return ir
        _discard(path)
    ir = replace(lower(checked), fingerprint=key)   # LoweringError propagates: nothing is stored
    try:
        atomic_write(path, sign(pickle.dumps(ir, protocol=pickle.HIGHEST_PROTOCOL), label))
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass              # an unwritable cache only costs time
    return ir


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
