"""The numba backend: generated code, the compile cache, the standalone package, runtime
parameters. Agreement with the reference on every model is tests/backends/test_cross_backend.py;
NaN reports are test_backend_contract.py.

Most tests share the small network TINY, compiled once per machine (the compile cache keeps the
generated module; numba's own cache keeps its machine code).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from snnlang.ir.lower import lower
from snnlang.runtime.executable import Options
from snnlang.semantics.checker import check_path
from snnlang_backends import numba as nb
from snnlang_backends import reference
from snnlang_backends.numba import cache

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import TINY, free_run, ir_of  # noqa: E402

SOLO = """
neuron Count:
    state n = 0
    n <- n + 1
    spike when n > 3:
        n = 0

network solo:
    layer c = Count(2)
"""


# ----------------------------------------------------------------------------- generated code


def test_generation_is_deterministic_and_valid_python():
    a = nb.source(ir_of(TINY), "tiny")
    b = nb.source(ir_of(TINY), "tiny")
    assert a == b
    stdp = ROOT / "models" / "stdp.snn"
    s1 = nb.source(lower(check_path(stdp)), "stdp")
    s2 = nb.source(lower(check_path(stdp)), "stdp")
    assert s1 == s2
    compile(s1, "stdp_numba.py", "exec")
    # nothing in the text depends on where the model file lies, nor on the process (set order)
    assert str(ROOT) not in s1
    script = ("import hashlib; from snnlang.semantics.checker import check_path; from snnlang.ir.lower import lower;"
              "from snnlang_backends.numba import source;"
              f"print(hashlib.sha256(source(lower(check_path({str(stdp)!r})), 'stdp').encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    import hashlib
    assert done.stdout.strip() == hashlib.sha256(s1.encode()).hexdigest()


def test_statements_point_to_their_snn_lines():
    path = ROOT / "models" / "stdp.snn"
    lines = path.read_text().splitlines()
    src = nb.source(lower(check_path(path)), "stdp")
    tagged = [(code, int(n)) for code, n in re.findall(r"^(.*?)\s+# stdp\.snn:(\d+)$", src, re.M)]
    assert len(tagged) > 20
    assert all(1 <= n <= len(lines) for _, n in tagged)

    def source_of(fragment: str) -> str:
        found = {lines[n - 1].strip() for code, n in tagged if fragment in code}
        assert found, fragment
        return " | ".join(sorted(found))

    assert source_of("spike = 1.0 if") == "spike when v > v_th:"
    assert source_of("    v = v_reset") == "state v = v_reset | v = v_reset"   # reset kernel, spike body
    assert source_of("post_g_e[_b, _i] = post_g_e[_b, _i] +") == "post.g_e += w"
    assert source_of("a_x_pre[_b, _j]").startswith("trace x_pre: tau tau_pre on pre += 1")
    assert source_of("-a_minus*w_max").startswith("w = clip(w - a_minus")
    assert source_of("a_plus*w_max").startswith("w = clip(w + a_plus")
    # every statement a kernel derives from an IR expression says where it came from
    kernels = src[src.index("# kernels"):src.index("# the step loop")]
    for line in kernels.splitlines():
        loads = re.match(r"\s+\w+ = (a_\w+\[_b, _i\]|\w+_old)$", line)   # locals of the loop, not statements
        if re.match(r"\s+(w|v|g_e|spike|rate|a_x_pre\[|a_x_post\[|_vals\[_q\]) = ", line) and not loads:
            assert "# stdp.snn:" in line, line


def test_readable_kernels_per_type_shared_between_owners():
    src = nb.source(lower(check_path(ROOT / "models" / "izhikevich.snn")), "izhikevich_network")
    # exc and inh are both Izhikevich: one kernel, called for each; the four connections share one
    # synapse type, and those that transmit alike (all but the delayed EI) share one kernel
    assert src.count("def step_Izhikevich(") == 1
    run = src[src.index("def _run("):]
    assert run.count("step_Izhikevich(") == 2
    transmit = re.findall(r"def (transmit_\w+)\(", src)
    assert len(transmit) == 2 and sum(run.count(f"{name}(") for name in transmit) == 4


# ----------------------------------------------------------------------------- the compile cache


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNLANG_CACHE_DIR", str(tmp_path))
    return tmp_path / "numba"


def _forget(path: Path) -> None:
    """Drop an imported cache entry, as a new process would not have it."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == str(path):
            del sys.modules[name]


def test_cache_hit_miss_and_corrupt_entry(private_cache):
    model = ir_of(SOLO)
    source = nb.source(model, "solo")
    path = cache.entry_path(cache.key_of(source, nb._version(), nb.FORMAT))
    stats = cache.CacheStats
    misses, hits, repaired = stats.misses, stats.hits, stats.repaired
    first = nb.load_module(model, "solo")
    assert stats.misses == misses + 1 and path.read_text() == source
    assert nb.load_module(model, "solo") is first and stats.hits == hits + 1
    # a truncated entry (a crash while writing by a tool that does not replace atomically)
    _forget(path)
    path.write_text(source[: len(source) // 2])
    again = nb.load_module(model, "solo")
    assert stats.repaired == repaired + 1 and path.read_text() == source
    assert free_run(nb.build(model, "solo", Options()), 10, ("c.spike",))["c.spike"].sum() == 2 * 2
    # an entry that is not Python at all
    _forget(path)
    path.write_text("this is not python (\n")
    nb.load_module(model, "solo")
    assert stats.repaired == repaired + 2 and path.read_text() == source
    assert again.NETWORK == "solo"
    # another model or another compiler version is another entry
    other = cache.key_of(source, "0.0.0-other", nb.FORMAT)
    assert cache.entry_path(other) != path
    assert [p.name for p in private_cache.glob("snn_*.py")] == [path.name]
    assert not list(private_cache.glob("*.tmp"))


def test_two_processes_compiling_at_once(private_cache, tmp_path):
    script = tmp_path / "build.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        from snnlang.semantics.checker import check_text
        from snnlang.ir.lower import lower
        from snnlang.runtime.executable import Options, PhaseRun
        from snnlang_backends.numba import build
        exe = build(lower(check_text({SOLO!r})), "solo", Options(seed=4))
        out = exe.run_phase(PhaseRun(None, 200, None, frozenset(), {{}}, ("c.spike",)))
        print(json.dumps([float(out["c.spike"].sum()), float(exe.get("c.n").sum())]))
    """))
    env = {**os.environ, "SNNLANG_CACHE_DIR": str(private_cache.parent)}
    procs = [subprocess.Popen([PYTHON, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              text=True) for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0] == results[1] and results[0][0] > 0
    assert len(list(private_cache.glob("snn_*.py"))) == 1
    assert not list(private_cache.glob("*.tmp"))


# ----------------------------------------------------------------------------- the standalone package


def test_emitted_package_runs_with_only_numpy_and_numba(tmp_path):
    model = ir_of(TINY)
    folder = nb.emit(model, None, tmp_path / "out")
    assert folder.parent == tmp_path / "out" and (folder / "__init__.py").is_file()
    manifest = json.loads((folder / "manifest.json").read_text())
    net = manifest["networks"]["tiny"]
    states = {s["name"]: s for s in net["states"]}
    assert states["C.w"]["shape"] == [3, 8] and states["o.v"]["shape"] == ["batch", 3]
    assert states["C.x_pre"]["shape"] == ["batch", 8]
    params = {(p["owner"], p["name"]): p for p in net["params"]}
    assert params[("o", "tau")]["default"] == 10 and params[("C", "lr")]["default"] == 0.01
    assert [c["name"] for c in net["connections"]] == ["C"]
    assert net["connections"][0]["connectivity"] == "dense"
    # run it in a fresh interpreter that cannot import snnlang or sympy
    script = textwrap.dedent(f"""
        import json, sys
        for blocked in ("snnlang", "snnlang_backends", "sympy", "lark"):
            sys.modules[blocked] = None
        sys.path.insert(0, {str(folder.parent)!r})
        import {folder.name} as pkg
        sim = pkg.load(seed=4, batch=2)
        out = sim.run(None, 200, record=("o.spike",))
        sim.set_param("C", "lr", 0.05)
        sim.run(None, 50)
        print(json.dumps([out["o.spike"].tolist(), sim.get("C.w").tolist(), sim.step]))
    """)
    done = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    spikes, w, step = json.loads(done.stdout.strip().splitlines()[-1])
    exe = nb.build(model, "tiny", Options(seed=4, batch=2))
    here = free_run(exe, 200, ("o.spike",))
    exe.set_param("C", "lr", 0.05)
    free_run(exe, 50)
    assert np.sum(spikes) > 0
    np.testing.assert_array_equal(np.array(spikes), here["o.spike"])
    np.testing.assert_array_equal(np.array(w), exe.get("C.w"))
    assert step == exe.step == 250


# ----------------------------------------------------------------------------- runtime parameters


def test_parameters_changed_at_runtime_need_no_new_code():
    model = ir_of(TINY)
    exe = nb.build(model, "tiny", Options(seed=2))
    ref = reference.build(model, "tiny", Options(seed=2))
    compiled = exe.m._run.signatures
    misses = cache.CacheStats.misses
    for e in (exe, ref):
        free_run(e, 100)
        e.set_param("o", "tau", 2.5)       # enters the loop only through the hoisted exp(-1/tau)
        e.set_param("C", "lr", 0.05)
    assert exe.get_param("o", "tau") == 2.5 and exe.get_param("C", "lr") == 0.05
    assert exe.m._run.signatures == compiled and cache.CacheStats.misses == misses
    a = free_run(exe, 300, ("o.v", "o.spike"))
    b = free_run(ref, 300, ("o.v", "o.spike"))
    np.testing.assert_array_equal(a["o.spike"], b["o.spike"])
    np.testing.assert_allclose(a["o.v"], b["o.v"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(exe.get("C.w"), ref.get("C.w"), rtol=1e-12, atol=1e-12)
    # the change matters: with a faster leak the neurons fire less than with the default
    slow = nb.build(model, "tiny", Options(seed=2))
    free_run(slow, 100)
    c = free_run(slow, 300, ("o.spike",))
    assert a["o.spike"].sum() < c["o.spike"].sum()
    with pytest.raises(KeyError):
        exe.set_param("o", "nope", 1.0)
    with pytest.raises(KeyError):
        exe.get_param("x", "rate")


def test_float32_batches_and_recordings():
    model = ir_of(TINY)
    f32 = nb.build(model, "tiny", Options(seed=5, batch=3, dtype="float32"))
    f64 = nb.build(model, "tiny", Options(seed=5, batch=3))
    a = free_run(f32, 50, ("o.v", "C.w", "x.spike"))
    b = free_run(f64, 50, ("o.v", "C.w", "x.spike"))
    assert a["o.v"].dtype == np.float32 and a["o.v"].shape == (50, 3, 3)
    assert a["C.w"].shape == (50, 3, 8) and f32.get("C.w").dtype == np.float32
    np.testing.assert_array_equal(a["x.spike"], b["x.spike"])
    np.testing.assert_allclose(a["o.v"], b["o.v"], rtol=1e-4, atol=1e-5)
    assert f32.state_names() == f64.state_names() == reference.build(model, "tiny", Options()).state_names()
