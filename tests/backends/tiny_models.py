"""Small programs the backend tests share (numba, torch: tests/backends/test_numba.py,
test_torch.py, test_backend_contract.py), and the helpers that build and run them."""

from __future__ import annotations

from snnlang.ir.lower import lower
from snnlang.runtime.executable import PhaseRun
from snnlang.semantics.checker import check_text

TINY = """
neuron Leaky:
    param tau = 10
    param v_th = 2.0
    state v = 0
    input I
    v <- v * exp(-1 / tau) + I
    spike when v > v_th:
        v = 0

synapse Hebb:
    param lr = 0.01
    state w = 0.5
    trace x_pre: tau 5 on pre += 1
    on pre:
        post.I += w
    on post:
        w += lr * x_pre

network tiny:
    input x = poisson(8, rate = 0.1)
    layer o = Leaky(3)
    connect C: x -> o with Hebb(dense):
        init w = uniform(0.2, 0.6)
"""

BLOW = """
neuron Blow:
    state v = 1
    v <- v * 1e200
    spike when v > 1e308

network n:
    layer h = Blow(3)
"""


def ir_of(src: str):
    checked = check_text(src)
    assert checked.ok, [f"{d.code}: {d.message}" for d in checked.errors]
    return lower(checked)


def free_run(exe, steps: int, record=(), data=None):
    """`steps` steps outside any phase, every connection plastic."""
    if hasattr(exe, "m"):        # numba lists (name, ...) tuples, torch names
        plastic = frozenset(c[0] if isinstance(c, tuple) else c for c in exe.m.CONNECTIONS)
    else:
        plastic = frozenset(c.name for c in exe.network.connections)
    return exe.run_phase(PhaseRun(None, steps, None, plastic, data or {}, tuple(record)))
