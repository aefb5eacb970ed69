"""Lowered models stored by content hash, so that compiling an unchanged model again
(in another process) skips the solvers' symbolic work.

The key is SHA-256 of (snnlang version, IR_FORMAT, the compiler's own sources, every source
file of the checked model by name and text): any change to the model, to a file it imports
or to the compiler (grammar, syntax, semantics, IR; so also during development, when the
version does not change) gives a new key. Entries are pickles under `<cache root>/ir/` (snnlang.cache), written atomically;
an entry that fails to load is deleted and rebuilt. Parameters, seeds, batch sizes and
dtypes are runtime values and never part of the key.
"""

from __future__ import annotations

import hashlib
import pickle
from functools import lru_cache
from pathlib import Path

from snnlang.cache import atomic_write, cache_root
from snnlang.ir.model import ModelIR
from snnlang.semantics.checker import CheckResult

IR_FORMAT = 2  # bump when snnlang/ir/model.py changes shape


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
    path = cache_root() / "ir" / f"{key[:40]}.pickle"
    try:
        with open(path, "rb") as fh:
            ir = pickle.load(fh)
        if isinstance(ir, ModelIR) and ir.fingerprint == key:
            return ir
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a truncated or foreign entry: rebuild it
        try:
            path.unlink()
        except OSError:
            pass
    ir = replace(lower(checked), fingerprint=key)   # LoweringError propagates: nothing is stored
    try:
        atomic_write(path, pickle.dumps(ir, protocol=pickle.HIGHEST_PROTOCOL))
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass              # an unwritable cache only costs time
    return ir
