"""The memory estimate (snnlang/runtime/memory.py): a network or a run's recording that cannot
fit is refused with the figures before any backend allocates anything (hardening item 7).

Nothing here allocates a large array: a huge network is refused by the estimate, and the
tests that go through a real backend use a small SNNLANG_MEMORY_LIMIT instead of a big model.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import snnlang
from snnlang.cli import main
from snnlang.errors import UserError
from snnlang.ir.lower import lower
from snnlang.runtime import memory
from snnlang.runtime.memory import MemoryLimitError
from snnlang.semantics.checker import check_text

MODEL = """
neuron LIF:
    param tau = 10
    state v = 0
    input I
    dv/dt = (I - v) / tau
    spike when v > 1:
        v = 0
    refractory 2
    trace r: tau 20 on spike += 1

synapse STDP:
    param lr = 0.001
    state w = 0.1
    trace x_pre: tau 20 on pre += 1
    trace x_post: tau 20 on post += 1
    on pre:
        post.I += w
        w -= lr * x_post
    on post:
        w += lr * x_pre

synapse Static:
    param w = 0.5
    on pre:
        post.I += w

network net:
    input x = poisson(N_IN, rate = 0.05)
    layer a = LIF(N_HID)
    layer b = LIF(N_HID)
    connect W1: x -> a with STDP(dense)
    connect W2: a -> b with STDP(sparse(p = 0.1)):
        delay 5
    connect a -> b with Static(one_to_one)
    connect W4: a -> b with STDP(dense)
    connect W3: b -> a with STDP(dense):
        tie w = transpose(W4.w)
    simulate 50
"""


def model_text(n_in: int = 30, n_hid: int = 20) -> str:
    return MODEL.replace("N_IN", str(n_in)).replace("N_HID", str(n_hid))


def ir_of(text: str):
    checked = check_text(text)
    assert checked.ok, checked.errors
    return lower(checked)


@pytest.fixture(autouse=True)
def no_limit_from_outside(monkeypatch):
    monkeypatch.delenv(memory.ENV_VAR, raising=False)


@pytest.fixture
def builds(monkeypatch):
    """Backend builds that happen (a build that is reached fails the test that forbids it)."""
    calls = []

    def fake_builder(target):
        def build(ir, network, options):
            calls.append(target)
            raise AssertionError("the backend was asked to allocate the network")
        return build
    monkeypatch.setattr("snnlang.runtime.backends.builder", fake_builder)
    return calls


# ------------------------------------------------------------------------------ the limit

@pytest.mark.parametrize("text,value", [("64GiB", 64 * 2 ** 30), ("500 MB", 500 * 10 ** 6), ("1e9", 10 ** 9),
                                        ("2048", 2048), ("1.5kib", 1536), ("0", None), ("off", None)])
def test_sizes_are_parsed(text, value):
    assert memory.parse_size(text) == value


@pytest.mark.parametrize("text", ["junk", "12 parsecs", "-5GB", "1e999"])
def test_a_bad_limit_is_a_user_error(text):
    with pytest.raises(UserError):
        memory.parse_size(text)


def test_the_limit_comes_from_the_environment_or_the_machine(monkeypatch):
    machine, source = memory.limit()
    assert source == "the machine has" and machine and machine > 2 ** 20
    monkeypatch.setenv(memory.ENV_VAR, "3GiB")
    assert memory.limit() == (3 * 2 ** 30, memory.ENV_VAR)
    assert memory.limit("1MB") == (10 ** 6, "memory_limit")     # an explicit option wins
    monkeypatch.setenv(memory.ENV_VAR, "0")
    assert memory.limit()[0] is None


def test_torch_on_cuda_is_limited_by_the_gpu(monkeypatch):
    class Cuda:
        @staticmethod
        def is_available():
            return True

        @staticmethod
        def current_device():
            return 0

        @staticmethod
        def get_device_properties(index):
            return type("Props", (), {"total_memory": (80 if index == 0 else 40) * 2 ** 30})()

    monkeypatch.setitem(sys.modules, "torch", type("FakeTorch", (), {"cuda": Cuda})())
    assert memory.limit(None, "torch", "auto") == (80 * 2 ** 30, "the GPU has")
    assert memory.limit(None, "torch", "cuda:1") == (40 * 2 ** 30, "the GPU has")
    assert memory.limit(None, "torch", "cpu")[1] == "the machine has"
    assert memory.limit(None, "numba", "auto")[1] == "the machine has"


# ---------------------------------------------------------------------------- the estimate

def test_the_estimate_counts_every_array_of_the_layout():
    net = ir_of(model_text(30, 20)).networks["net"]
    est = memory.estimate_build(ir_of(model_text(30, 20)), "net", batch=2, dtype="float32")
    by = {item.what.split(" (")[0]: item for item in est.items}
    assert by["input `x`"].values == 2 * 30
    assert by["population `a`"].values == 2 * 20 * 5          # v, I, spike, r, refractory counter
    assert by["connection `W1`"].values == 20 * 30 + 2 * 30 + 2 * 20   # w per pair; x_pre; x_post
    assert by["connection `W3`"].values == 2 * 20 + 2 * 20    # tied: no matrix of its own
    w2 = net.connections[1]
    pairs = memory.pairs(net, w2)
    assert pairs == 40                                        # 0.1 x 20 x 20
    # w per pair, traces, a delay ring of 5 steps x batch x target; an int64 index per pair
    assert by["connection `W2`"].bytes == (pairs + 2 * 20 + 2 * 20 + 5 * 2 * 20) * 4 + pairs * 8
    assert "connection `a_to_b`" not in by                    # a parameter-only synapse: nothing per pair
    draw = by["drawing the pattern of sparse connection `W2`"]
    assert draw.bytes == 20 * 20 * memory.SPARSE_DRAW_BYTES
    assert est.total == sum(item.bytes for item in est.items)


@pytest.mark.parametrize("target", ["reference", "numba", "torch"])
def test_the_estimate_is_close_to_what_each_backend_allocates(target):
    extra = {"device": "cpu"} if target == "torch" else {}
    model = snnlang.compile(model_text(30, 20), target=target, batch=3, **extra)
    held = sum(np.asarray(model.get(name)).nbytes for name in model.state_names()
               if name != "W3.w")                             # a tied matrix is a view of W4.w
    items = memory.estimate_build(model.ir, "net", 3, "float64").items
    # what stays allocated: the sparse draw is transient, the delay ring internal
    steady = sum(item.bytes for item in items if not item.what.startswith("drawing"))
    ring = 5 * 3 * 20 * 8
    assert 0.95 * held <= steady - ring <= 1.1 * held, (steady, held)


# --------------------------------------------------------------- refusals before allocating

LONELY = """
neuron Cell:
    input I
    state v = 0
    v <- 0.5 * v * (1 - spike) + I
    spike when v > 0.5

synapse Drive:
    state w = 0.6
    on pre:
        post.I += w

network net:
    input x = poisson(10, rate = 0.1)
    layer hid = Cell(SIZE)
    connect x -> hid with Drive(one_to_one)
"""


@pytest.mark.parametrize("text,culprit", [
    (LONELY.replace("SIZE", "1000000000").replace("poisson(10", "poisson(1000000000"),
     "population `hid` (1e9 neurons x 3 values)"),                      # N(1e9): 22 GiB
    (LONELY.replace("SIZE", "10 ** 15").replace("poisson(10", "poisson(10 ** 15"),
     "population `hid` (1e15 neurons x 3 values)"),                     # absurd, but it fits
    (LONELY.replace("SIZE", "200000").replace("poisson(10", "poisson(200000")
     .replace("Drive(one_to_one)", "Drive(all_to_all)"),
     "connection `x_to_hid` (x -> hid, 4e10 weights)"),                  # all-to-all: 298 GiB
    (model_text(200_000, 200_000), "drawing the pattern of sparse connection `W2` (4e10 candidate pairs)"),
    # a million pairs only, but the pattern is drawn over every candidate pair at once
    (LONELY.replace("SIZE", "1000000").replace("poisson(10", "poisson(1000000")
     .replace("Drive(one_to_one)", "Drive(sparse(p = 0.000001))"),
     "drawing the pattern of sparse connection `x_to_hid` (1e12 candidate pairs)"),
])
def test_a_network_that_cannot_fit_is_refused_before_the_backend_builds(builds, text, culprit):
    with pytest.raises(MemoryLimitError) as info:
        snnlang.compile(text, target="numba", memory_limit="16GiB")
    message = str(info.value)
    assert builds == []
    assert culprit in message, message
    assert "the limit (memory_limit) is 16 GiB" in message and memory.ENV_VAR in message


def test_the_machine_memory_is_the_default_limit(builds, monkeypatch):
    monkeypatch.setattr(memory, "physical_memory", lambda: 24 * 2 ** 30)
    with pytest.raises(MemoryLimitError, match=r"connection `W1` \(x -> a, 4e10 weights\).*"
                                               r"the machine has 24 GiB"):
        snnlang.compile(model_text(2_000_000_000, 20), target="torch")
    assert builds == []


def test_the_environment_variable_overrides_the_limit(builds, monkeypatch):
    monkeypatch.setenv(memory.ENV_VAR, "1KiB")
    with pytest.raises(MemoryLimitError, match=r"the limit \(SNNLANG_MEMORY_LIMIT\) is 1 KiB"):
        snnlang.compile(model_text(), target="numba")
    assert builds == []


@pytest.mark.parametrize("target", ["reference", "numba", "torch"])
def test_every_backend_is_refused_under_a_small_limit(target, monkeypatch):
    monkeypatch.setenv(memory.ENV_VAR, "10KB")
    extra = {"device": "cpu"} if target == "torch" else {}
    with pytest.raises(MemoryLimitError, match=f"network `net` on {target} needs about"):
        snnlang.compile(model_text(), target=target, **extra)


def test_zero_turns_the_check_off(monkeypatch):
    monkeypatch.setenv(memory.ENV_VAR, "1KiB")
    model = snnlang.compile(model_text(), target="reference", memory_limit=0)
    assert model.run(5).data


# -------------------------------------------------------------------------- run recordings

@pytest.mark.parametrize("target", ["reference", "numba", "torch"])
def test_a_recording_that_cannot_fit_is_refused_before_the_run(target):
    extra = {"device": "cpu"} if target == "torch" else {}
    model = snnlang.compile(model_text(), target=target, memory_limit="1GiB", **extra)
    step = model.exe.step
    with pytest.raises(MemoryLimitError, match=r"recording 2 variables for 1e11 steps needs about .* TiB"):
        model.run(10 ** 11)                                   # 40 spikes a step: 5.8 TiB as float64
    assert model.exe.step == step                             # not one step ran
    with pytest.raises(MemoryLimitError, match="`W4.w`"):
        model.run(10 ** 7, record=["W4.w"])                   # 400 weights a step
    assert model.run(20).data["a.spike"].shape == (20, 1, 20)


def test_a_run_without_recording_is_not_limited_by_its_length():
    model = snnlang.compile(model_text(), target="numba", memory_limit="1MiB")
    model.run(1000, record=[])


def test_snnc_run_refuses_with_one_message_and_exit_1(tmp_path, capsys, monkeypatch):
    path = tmp_path / "big.snn"
    path.write_text(LONELY.replace("SIZE", "1000000000").replace("poisson(10", "poisson(1000000000"))
    monkeypatch.setenv(memory.ENV_VAR, "8GiB")
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "population `hid` (1e9 neurons x 3 values) at line 15 of big.snn" in err
    assert "Traceback" not in err and "internal compiler error" not in err

    small = tmp_path / "small.snn"
    small.write_text(model_text())
    assert main(["run", str(small), "--steps", str(10 ** 11)]) == 1
    err = capsys.readouterr().err
    assert "recording" in err and "TiB" in err and "Traceback" not in err
