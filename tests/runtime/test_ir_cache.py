"""The lowered-IR cache (snnlang/runtime/ir_cache.py) and the numba module index it feeds."""

from __future__ import annotations

from pathlib import Path

import pytest

import snnlang.ir.lower as lowering
from snnlang.cache import CacheWarning
from snnlang.runtime import ir_cache
from snnlang.semantics.checker import check_path

NEURONS = '''
neuron Leaky:
    param tau = 10
    input I
    state v = 0
    dv/dt = -v / tau + I
    spike when v > 1:
        v = 0
'''
NETWORK = '''
import "leaky.snn"

synapse Static:
    param w = 0.5
    on pre:
        post.I += w

network net:
    input x = poisson(4, rate = 0.3)
    layer out = Leaky(2)
    connect x -> out with Static(dense)
'''


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNLANG_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "leaky.snn").write_text(NEURONS)
    (tmp_path / "net.snn").write_text(NETWORK)
    return tmp_path


def _counting_lower(monkeypatch) -> list:
    calls = []
    real = lowering.lower

    def counted(checked):
        calls.append(checked.file)
        return real(checked)
    monkeypatch.setattr(lowering, "lower", counted)
    return calls


def test_second_lowering_comes_from_the_cache(model_dir, monkeypatch):
    calls = _counting_lower(monkeypatch)
    first = ir_cache.lower_cached(check_path(model_dir / "net.snn"))
    second = ir_cache.lower_cached(check_path(model_dir / "net.snn"))
    assert len(calls) == 1
    assert second == first and second.fingerprint == first.fingerprint is not None


def test_an_edited_import_is_a_new_key(model_dir, monkeypatch):
    calls = _counting_lower(monkeypatch)
    ir_cache.lower_cached(check_path(model_dir / "net.snn"))
    (model_dir / "leaky.snn").write_text(NEURONS.replace("tau = 10", "tau = 20"))
    ir = ir_cache.lower_cached(check_path(model_dir / "net.snn"))
    assert len(calls) == 2
    assert ir.neurons["Leaky"].var("tau").init == 20


@pytest.mark.parametrize("damage", [b"", b"not a pickle", b"\x80\x05garbage"])
def test_a_corrupt_entry_is_rebuilt(model_dir, monkeypatch, damage):
    calls = _counting_lower(monkeypatch)
    checked = check_path(model_dir / "net.snn")
    good = ir_cache.lower_cached(checked)
    (entry,) = (Path(model_dir) / "cache" / "ir").glob("*.pickle")
    entry.write_bytes(damage)
    with pytest.warns(CacheWarning, match="not a signed cache entry"):   # never unpickled
        again = ir_cache.lower_cached(checked)
    assert len(calls) == 2 and again == good
    assert entry.read_bytes() != damage, "the entry was written anew"


def test_compile_in_a_new_setting_uses_the_module_index(model_dir):
    """With a fingerprint, the numba backend finds its module without generating source."""
    import snnlang
    import snnlang_backends.numba as nb
    snnlang.compile(model_dir / "net.snn")
    generated = []
    real = nb.source
    nb.source = lambda *a: generated.append(a) or real(*a)
    try:
        model = snnlang.compile(model_dir / "net.snn")
    finally:
        nb.source = real
    assert generated == []
    assert model.run(20)["out.spike"].shape == (20, 1, 2)
