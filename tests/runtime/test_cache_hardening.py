"""The cache is not a way to run code: what snnlang loads from it is verified first
(snnlang/cache.py, snnlang/runtime/ir_cache.py, backends/*/cache.py).

Every test has its own SNNLANG_CACHE_DIR. Planted pickles carry a payload whose unpickling
would create a marker file: the marker must never appear.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import stat
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import snnlang.ir.lower as lowering
from snnlang import cache as snn_cache
from snnlang.cache import CacheWarning
from snnlang.runtime import ir_cache
from snnlang.runtime.executable import Options
from snnlang.semantics.checker import check_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
from tiny_models import free_run, ir_of  # noqa: E402

SOLO = """
neuron Count:
    state n = 0
    n <- n + 1
    spike when n > 3:
        n = 0

network solo:
    layer c = Count(2)
"""


class Payload:
    """Unpickling this creates `marker` (what a planted pickle could do instead)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


SIGNED = b"snnlang-hmac-sha256\n"


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SNNLANG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "payload-ran"


@pytest.fixture
def solo_file(tmp_path) -> Path:
    (tmp_path / "solo.snn").write_text(SOLO)
    return tmp_path / "solo.snn"


def _counting_lower(monkeypatch) -> list:
    calls = []
    real = lowering.lower
    monkeypatch.setattr(lowering, "lower", lambda checked: calls.append(checked.file) or real(checked))
    return calls


def _cache_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, CacheWarning)]


# ----------------------------------------------------------------------------- the IR cache


@pytest.mark.parametrize("how", ["raw pickle", "signed by another key", "signature kept, payload swapped"])
def test_a_planted_ir_pickle_does_not_run(root, marker, solo_file, monkeypatch, how):
    checked = check_path(solo_file)
    good = ir_cache.lower_cached(checked)
    (entry,) = (root / "ir").glob("*.pickle")
    payload = pickle.dumps(Payload(marker))
    signed = entry.read_bytes()
    if how == "raw pickle":
        entry.write_bytes(payload)
    elif how == "signed by another key":      # e.g. a cache copied from another user
        label = f"ir/{good.fingerprint}".encode() + b"\0"
        tag = hmac.new(b"k" * 32, label + payload, hashlib.sha256).digest()
        entry.write_bytes(signed[:len(SIGNED)] + tag + payload)
    else:
        entry.write_bytes(signed[:len(SIGNED) + 32] + payload)
    calls = _counting_lower(monkeypatch)
    with pytest.warns(CacheWarning, match="IR cache"):
        again = ir_cache.lower_cached(checked)
    assert not marker.exists(), "the planted pickle ran"
    assert calls == [checked.file] and again == good
    assert ir_cache.lower_cached(checked) == good and len(calls) == 1, "the rebuilt entry is used"


def test_an_entry_signed_for_another_model_is_not_used(root, solo_file, tmp_path, monkeypatch):
    """The signature covers the entry's key: a valid entry copied over another is rejected."""
    other = tmp_path / "other.snn"
    other.write_text(SOLO.replace("n > 3", "n > 2"))
    a = ir_cache.lower_cached(check_path(solo_file))
    b = ir_cache.lower_cached(check_path(other))
    path_a = root / "ir" / f"{a.fingerprint[:40]}.pickle"
    path_b = root / "ir" / f"{b.fingerprint[:40]}.pickle"
    path_a.write_bytes(path_b.read_bytes())
    with pytest.warns(CacheWarning):
        again = ir_cache.lower_cached(check_path(solo_file))
    assert again == a


def test_the_key_file_is_private_and_made_once(root, solo_file):
    ir_cache.lower_cached(check_path(solo_file))
    key = root / snn_cache.KEY_FILE
    if hasattr(os, "geteuid"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        assert stat.S_IMODE((root / "ir").stat().st_mode) == 0o700
    first = key.read_bytes()
    assert len(first) == 32 and snn_cache.secret_key() == first
    assert not [p for p in root.iterdir() if p.name.startswith(".key.")], "no temporary key left"


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX modes")
def test_a_readable_key_is_replaced(root, solo_file):
    checked = check_path(solo_file)
    good = ir_cache.lower_cached(checked)
    key = root / snn_cache.KEY_FILE
    old = key.read_bytes()
    key.chmod(0o644)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert ir_cache.lower_cached(checked) == good
    assert any("not a private" in m for m in _cache_warnings(record))
    assert key.read_bytes() != old and stat.S_IMODE(key.stat().st_mode) == 0o600


# ----------------------------------------------------------------------------- unsafe folders


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX ownership and modes")
@pytest.mark.parametrize("folder", [".", "ir"])
def test_a_group_writable_cache_is_not_read(root, marker, solo_file, monkeypatch, folder):
    checked = check_path(solo_file)
    good = ir_cache.lower_cached(checked)
    (entry,) = (root / "ir").glob("*.pickle")
    entry.write_bytes(pickle.dumps(Payload(marker)))       # someone in the group planted it
    (root / folder).chmod(0o775)
    calls = _counting_lower(monkeypatch)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        first = ir_cache.lower_cached(checked)
        second = ir_cache.lower_cached(checked)
    messages = _cache_warnings(record)
    assert len(messages) == 1 and "writable by group" in messages[0], messages
    assert not marker.exists()
    assert first == second == good
    assert entry.read_bytes() == pickle.dumps(Payload(marker)), "nothing in the unsafe folder was touched"
    assert snn_cache.cache_root() != root and not str(snn_cache.cache_root()).startswith(str(root))
    assert len(calls) == 1, "the private replacement folder caches for the rest of the process"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give a folder away")
def test_a_cache_owned_by_another_user_is_not_read(root, marker, solo_file):
    checked = check_path(solo_file)
    ir_cache.lower_cached(checked)
    (entry,) = (root / "ir").glob("*.pickle")
    entry.write_bytes(pickle.dumps(Payload(marker)))
    os.chown(root, 12345, -1)
    with pytest.warns(CacheWarning, match="belongs to user id 12345"):
        ir_cache.lower_cached(checked)
    assert not marker.exists()


def test_a_private_cache_gives_no_warning(root, solo_file):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        ir_cache.lower_cached(check_path(solo_file))
        ir_cache.lower_cached(check_path(solo_file))
    assert snn_cache.cache_root() == root


# ----------------------------------------------------------------------------- generated modules


def _forget(path: Path) -> None:
    """Drop an imported cache entry, as a new process would not have it."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == str(path):
            del sys.modules[name]


def _poison(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()\n"


@pytest.mark.parametrize("backend", ["torch", "lava"])
def test_an_edited_generated_module_is_not_imported(root, marker, backend):
    """torch and lava keep modules the same way; their cache needs no torch or lava to test."""
    if backend == "torch":
        from snnlang_backends.torch import cache
        load = lambda src: cache.load(src, "1.0", 1)   # noqa: E731
    else:
        from snnlang_backends.lava import cache
        load = lambda src: cache.load(src, "1.0")   # noqa: E731
    source = "LIMIT = 0.1\n"
    module = load(source)
    path = Path(module.__file__)
    assert module.LIMIT == 0.1 and path.parent == root / backend
    _forget(path)
    path.write_text(_poison(marker) + "LIMIT = 0.9\n")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        module = load(source)
    assert not marker.exists() and module.LIMIT == 0.1
    assert path.read_text() == source
    assert any("does not match" in m for m in _cache_warnings(record))
    _forget(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert load(source).LIMIT == 0.1


def test_import_verified_compiles_the_bytes_it_hashed(tmp_path, monkeypatch):
    """The file is read once: a replacement after the hash was checked is not what runs."""
    path = tmp_path / "m.py"
    good = b"VALUE = 1\n"
    path.write_bytes(good)
    real_compile = compile

    def swap_then_compile(source, filename, mode, **kw):
        path.write_bytes(b"VALUE = 2\n")     # the file changes between the check and the import
        return real_compile(source, filename, mode, **kw)
    monkeypatch.setattr("builtins.compile", swap_then_compile)
    module = snn_cache.import_verified(path, "snnlang_test_verified_m", snn_cache.sha256_hex(good))
    sys.modules.pop("snnlang_test_verified_m", None)
    assert module.VALUE == 1


# ----------------------------------------------------------------------------- numba


def _run_solo(model) -> np.ndarray:
    from snnlang_backends import numba as nb
    return free_run(nb.build(model, "solo", Options()), 12, ("c.spike",))["c.spike"]


def _entry(root: Path) -> Path:
    (path,) = (root / "numba").glob("snn_*.py")
    return path


@pytest.mark.parametrize("fingerprinted", [True, False], ids=["via the index", "via the source"])
def test_an_edited_numba_module_is_rebuilt(root, marker, solo_file, fingerprinted):
    from snnlang_backends import numba as nb
    model = ir_cache.lower_cached(check_path(solo_file)) if fingerprinted else ir_of(SOLO)
    assert bool(model.fingerprint) == fingerprinted
    fresh = _run_solo(model)
    path = _entry(root)
    text = path.read_text()
    assert "(n > 3)" in text
    _forget(path)
    path.write_text(_poison(marker) + text.replace("(n > 3)", "(n > 1)"))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        again = _run_solo(model)
    assert not marker.exists(), "the edited module ran"
    np.testing.assert_array_equal(again, fresh)
    assert path.read_text() == nb.source(model, "solo")
    assert any("does not match" in m for m in _cache_warnings(record))


def test_a_forged_numba_index_is_not_followed(root, solo_file):
    from snnlang_backends.numba import FORMAT, cache
    model = ir_cache.lower_cached(check_path(solo_file))
    fresh = _run_solo(model)
    (index,) = (root / "numba" / "index").glob("*.key")
    path = _entry(root)
    evil = path.with_name("snn_" + "0" * 32 + ".py")
    evil.write_text(path.read_text().replace("(n > 3)", "(n > 1)"))
    forged = f"{evil.stem}\n{snn_cache.sha256_hex(evil.read_bytes())}".encode()
    index.write_bytes(forged)                                    # unsigned
    _forget(path)
    with pytest.warns(CacheWarning, match="index"):
        again = _run_solo(model)
    np.testing.assert_array_equal(again, fresh)
    assert cache.load_indexed(index.stem, FORMAT).__file__ == str(path)


def _numba_files(root: Path) -> list[Path]:
    return sorted((root / "numba" / "__pycache__").glob("*.nb[ic]"))


def _damage(kind: str, f: Path, marker: Path) -> None:
    data = f.read_bytes()
    if kind == "truncated":
        f.write_bytes(data[: len(data) // 2])
    elif kind == "random bytes":
        f.write_bytes(np.random.default_rng(0).bytes(len(data)))
    else:     # a pickle that would run code, in numba's own format
        import numba
        f.write_bytes(pickle.dumps(numba.__version__) + pickle.dumps(Payload(marker)))


@pytest.mark.parametrize("kind", ["truncated", "random bytes", "payload"])
def test_damaged_numba_cache_files_are_rebuilt(root, marker, kind):
    model = ir_of(SOLO)
    fresh = _run_solo(model)
    files = _numba_files(root)
    assert {f.suffix for f in files} == {".nbi", ".nbc"}, "numba cached the machine code"
    for f in files:
        _damage(kind, f, marker)
    _forget(_entry(root))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        again = _run_solo(model)
    assert not marker.exists()
    assert any("compiling anew" in m for m in _cache_warnings(record)), _cache_warnings(record)
    np.testing.assert_array_equal(again, fresh)
    # the next process finds sound files again: no warning, machine code loaded from the cache
    _forget(_entry(root))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        from snnlang_backends import numba as nb
        exe = nb.build(model, "solo", Options())
        third = free_run(exe, 12, ("c.spike",))["c.spike"]
    np.testing.assert_array_equal(third, fresh)
    assert exe.m._run.stats.cache_hits and not exe.m._run.stats.cache_misses


def test_generated_numba_functions_use_the_signed_cache(root):
    """Nothing is compiled during the import, so numba's unchecked reader never runs."""
    from numba.core.dispatcher import Dispatcher

    from snnlang_backends import numba as nb
    module = nb.load_module(ir_of(SOLO), "solo")
    jitted = [f for f in vars(module).values() if isinstance(f, Dispatcher)]
    assert jitted and all(type(f._cache).__name__ == "_SignedFunctionCache" for f in jitted)
    assert not any(f.signatures for f in jitted)
    free_run(nb.build(ir_of(SOLO), "solo", Options()), 2)
    files = _numba_files(root)
    assert files and all(f.read_bytes().startswith(SIGNED) for f in files)


def test_without_verifiable_numba_internals_the_file_cache_is_off(root, monkeypatch):
    """Should a numba release move what the signed cache overrides, numba's unchecked reader
    is not used instead: generated functions get no file cache at all."""
    from numba.core.caching import NullCache

    from snnlang_backends import numba as nb
    from snnlang_backends.numba import cache

    def moved():
        raise AttributeError("numba's IndexDataCacheFile has no _load_index")
    monkeypatch.setattr(cache, "_signed_cache_class", moved)
    monkeypatch.setattr(snn_cache, "_warned", set())
    with pytest.warns(CacheWarning, match="cannot be verified"):
        module = nb.load_module(ir_of(SOLO), "solo")
    assert type(module._run._cache) is NullCache
    assert not _numba_files(root)


# ---------------------------------------------------------------------- parser tables


def _fresh_parser():
    from snnlang.syntax import parser
    parser._lark.cache_clear()
    snn_cache._warned.clear()          # each test may see the warning for the same entry again
    return parser


@pytest.mark.parametrize("how", ["raw pickle", "other key"])
def test_planted_parser_tables_do_not_run(root, marker, how):
    # Lark's own `cache=` file was a pickle loaded unchecked; the tables are signed now
    parser = _fresh_parser()
    parser._lark()                                   # writes the signed entry
    (entry,) = (root / "lark").glob("*.tables")
    payload = pickle.dumps(Payload(marker))
    if how == "raw pickle":
        entry.write_bytes(payload)
    else:
        tag = hmac.new(b"k" * 32, f"lark/{entry.stem}".encode() + b"\0" + payload, hashlib.sha256).digest()
        entry.write_bytes(SIGNED + tag + payload)
    parser = _fresh_parser()
    with pytest.warns(CacheWarning, match="parser-table cache entry"):
        module, diags = parser.parse(SOLO)
    assert not marker.exists()
    assert not diags and module.definitions
    parser._lark.cache_clear()


def test_parser_tables_are_read_back_without_rebuilding(root, monkeypatch):
    parser = _fresh_parser()
    parser._lark()
    parser = _fresh_parser()
    built = []
    real_init = parser.Lark.__init__
    monkeypatch.setattr(parser.Lark, "__init__", lambda self, *a, **k: built.append(1) or real_init(self, *a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        module, diags = parser.parse(SOLO)
    assert built == [] and not diags
    parser._lark.cache_clear()
