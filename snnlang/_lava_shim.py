"""Make Lava (lava-nc 0.10.0) importable on Python 3.11.

Why this exists
---------------
Every lava-nc release declares ``Requires-Python <3.11``, so it is installed out of
band (``pip install --no-deps --ignore-requires-python lava-nc==0.10.0``, see
scripts/install.sh). On 3.11 the only breakage is at import time:
``lava/magma/compiler/var_model.py`` uses ``x: ByteEncoder = ByteEncoder()`` as a
dataclass field default, and Python 3.11 rejects it ("mutable default ... use
default_factory") because ``ByteEncoder`` is an unhashable dataclass.

:func:`apply` imports that one module while ``dataclasses.dataclass`` is patched to
give Lava's ``ByteEncoder`` ``unsafe_hash=True`` (which makes it hashable, so 3.11
accepts it as a default, exactly as 3.10 did). Nothing in site-packages is edited,
and ``dataclasses.dataclass`` is restored right after. Lava forces the ``fork``
start method, so its child processes inherit the already-imported module.

Usage: call :func:`apply` before any ``lava`` import::

    from snnlang import _lava_shim
    _lava_shim.apply()
    from lava.proc.lif.process import LIF

Gotcha: importing Lava calls ``multiprocessing.set_start_method('fork')``, which
raises ``RuntimeError: context has already been set`` if anything earlier called
``multiprocessing.set_start_method()`` or even ``multiprocessing.get_start_method()``.

:func:`apply` raises ``ModuleNotFoundError`` if lava-nc is not installed; callers
should treat Lava as optional.
"""

from __future__ import annotations

import dataclasses
import sys

_VAR_MODEL = "lava.magma.compiler.var_model"


def apply() -> None:
    """Import Lava's ``var_model`` with the 3.11 fix in place (idempotent)."""
    if _VAR_MODEL in sys.modules:
        return
    orig = dataclasses.dataclass

    def patched(cls=None, /, **kw):
        def wrap(c):
            if c.__name__ == "ByteEncoder" and c.__module__.startswith("lava."):
                kw.setdefault("unsafe_hash", True)
            return orig(c, **kw)

        return wrap if cls is None else wrap(cls)

    dataclasses.dataclass = patched
    try:
        import lava.magma.compiler.var_model  # noqa: F401
    finally:
        dataclasses.dataclass = orig


def available() -> bool:
    """True if lava-nc is installed and imports (applying the shim)."""
    try:
        apply()
    except ImportError:
        return False
    return True
