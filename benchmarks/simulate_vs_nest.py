"""snnlang (numba) against NEST 3.10 on the E/I network without plasticity, and NESTML's code
generation time for an STDP synapse against snnlang's.

Part 1, simulation. The network of models/ei_stdp_net.snn with its E -> E synapses static
(`ExcSTDP` replaced by `Exc`): N `iaf_psc_exp` neurons (80 % E), 2 % `pairwise_bernoulli`
connectivity, a `poisson_generator` at 2 kHz into every neuron, 1 s at dt = 0.1 ms, one
thread. The constants come from the lowered .snn (peer_common.ei_constants); C_m = tau_m / R.
Each tool runs `--repeat` times in a new process with a new seed (wall-clock medians):
  run       NEST: `nest.Run` between `Prepare` and `Cleanup` (its connection infrastructure is
            built in `Prepare`, counted in compile); snnlang: `Model.run` without recording
  total     after the import (nest; snnlang and numba) to the end of the run
  compile   total - run (network construction; for snnlang also code generation / cache load)
The drive: snnlang's `poisson(rate = ...)` input spikes at most once a step (q = rate * dt =
0.2), NEST's `poisson_generator` sends Poisson counts, so NEST's runs at rate / (1 - q) with
weight J (1 - q): the same mean and variance of the input per step. The mean rates must agree
within `--tolerance`.

Part 2, code generation. NESTML 9.0 generates the NEST C++ code of `stdp_synapse` co-generated
with `iaf_psc_exp_neuron` (the models shipped with NESTML; NEST target, the C++ build skipped:
it needs NEST's development headers, see docs/performance.md), against `snnc compile` of the
E/I network (the standalone numba package) and `snnlang.compile` (parse to machine code), both
with an empty cache.

    python benchmarks/simulate_vs_nest.py                    # N = 1000 4000 16000, 3 repeats
    python benchmarks/simulate_vs_nest.py --sizes 4000 --repeat 5 --no-nestml

Needs the peers extra (nest-simulator, nestml).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_common as pc  # noqa: E402

SCRIPT = Path(__file__).resolve()


# ----------------------------------------------------------------------------- workers

def run_snnlang(n: int, duration: float, seed: int) -> dict:
    source = pc.ei_network_file(n, plastic=False)
    t0 = time.perf_counter()
    import numba  # noqa: F401 - the backend's dependency: part of the import
    import snnlang
    t1 = time.perf_counter()
    model = snnlang.compile(source, target="numba", seed=seed)
    steps = round(duration / model.network.dt)
    t2 = time.perf_counter()
    model.run(steps, record=())
    t3 = time.perf_counter()
    rates = model.metrics()
    synapses = sum(len(model.get(f"{c}.indices")) for c in ("EE", "EI", "IE", "II"))
    return {"import_s": t1 - t0, "total_s": t3 - t1, "run_s": t3 - t2, "rate_E": rates["rate_E"],
            "rate_I": rates["rate_I"], "synapses": synapses}


def run_nest(n: int, duration: float, seed: int) -> dict:
    k = pc.ei_constants(n)     # before the clock starts: reading the .snn is not NEST's work
    t0 = time.perf_counter()
    import nest
    t1 = time.perf_counter()
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    ms, mv, pa = 1e3, 1e3, 1e12
    nest.SetKernelStatus({"resolution": k["dt"] * ms, "rng_seed": seed, "local_num_threads": 1})
    neuron = {"C_m": k["tau_m"] / k["R"] * pa, "tau_m": k["tau_m"] * ms, "E_L": k["v_rest"] * mv,
              "V_reset": k["v_reset"] * mv, "V_th": k["v_th"] * mv, "t_ref": k["t_ref"] * ms,
              "tau_syn_ex": k["tau_e"] * ms, "tau_syn_in": k["tau_i"] * ms, "V_m": k["v_rest"] * mv, "I_e": 0.0}
    exc = nest.Create("iaf_psc_exp", int(k["N_E"]), params=neuron)
    inh = nest.Create("iaf_psc_exp", int(k["N_I"]), params=neuron)
    # snnlang's drive spikes at most once a step (Bernoulli, q = rate * dt); NEST's generator sends
    # Poisson counts. Rate rate / (1 - q) and weight J (1 - q) give the same mean (q J) and variance
    # (q (1 - q) J^2) of the input per step
    q = k["rate_ext"] * k["dt"]
    drive = nest.Create("poisson_generator", params={"rate": k["rate_ext"] / (1 - q)})
    delay = k["dt"] * ms
    nest.Connect(drive, exc + inh, syn_spec={"weight": k["J_ext"] * (1 - q) * pa, "delay": delay})
    rule = {"rule": "pairwise_bernoulli", "p": k["p"], "allow_autapses": True}
    nest.Connect(exc, exc, rule, {"weight": k["J_E"] * pa, "delay": delay})
    nest.Connect(exc, inh, rule, {"weight": k["J_E"] * pa, "delay": delay})
    nest.Connect(inh, exc, rule, {"weight": -k["J_I"] * pa, "delay": delay})
    nest.Connect(inh, inh, rule, {"weight": -k["J_I"] * pa, "delay": delay})
    rec_e, rec_i = nest.Create("spike_recorder"), nest.Create("spike_recorder")
    nest.Connect(exc, rec_e)
    nest.Connect(inh, rec_i)
    synapses = nest.GetKernelStatus("num_connections") - len(exc) - len(inh) - len(exc) - len(inh)
    nest.Prepare()
    t2 = time.perf_counter()
    nest.Run(duration * ms)
    t3 = time.perf_counter()
    nest.Cleanup()
    return {"import_s": t1 - t0, "total_s": t3 - t1, "run_s": t3 - t2,
            "rate_E": rec_e.n_events / len(exc) / duration, "rate_I": rec_i.n_events / len(inh) / duration,
            "synapses": int(synapses)}


def run_nestml(work: Path) -> dict:
    """NESTML's code generation for stdp_synapse paired with iaf_psc_exp_neuron (NEST target)."""
    t0 = time.perf_counter()
    from pynestml.frontend import pynestml_frontend as frontend
    t1 = time.perf_counter()
    models = Path(sys.prefix) / "models"
    # code generation only: the NEST builder (cmake + make against NEST's headers) is skipped
    frontend.builder_from_target_name = lambda name, options=None: (None, dict(options or {}))
    errors = frontend.generate_target(
        input_path=[str(models / "neurons" / "iaf_psc_exp_neuron.nestml"), str(models / "synapses" / "stdp_synapse.nestml")],
        target_platform="NEST", target_path=str(work / "target"), module_name="eistdpmodule", logging_level="ERROR",
        codegen_opts={"weight_variable": {"stdp_synapse": "w"},
                      "neuron_synapse_pairs": [{"neuron": "iaf_psc_exp_neuron",
                                                "synapses": {"stdp_synapse": {"post_ports": ["post_spikes"]}}}]})
    t2 = time.perf_counter()
    if errors:
        raise SystemExit("NESTML reported errors")
    files = sorted(p.name for p in (work / "target").iterdir())
    lines = sum(len(p.read_text(errors="replace").splitlines()) for p in (work / "target").iterdir() if p.is_file())
    return {"import_s": t1 - t0, "codegen_s": t2 - t1, "files": len(files), "lines": lines}


def run_snnc(work: Path, n: int) -> dict:
    """`snnc compile` (the standalone package: generated source, no machine code) and
    `snnlang.compile` (parse to LLVM machine code), each with an empty cache."""
    model = work / "ei_stdp_net.snn"
    model.write_text(pc.ei_network(n), encoding="utf-8")
    env = {**os.environ, "SNNLANG_CACHE_DIR": str(work / "cache-snnc")}
    snnc = Path(sys.executable).with_name("snnc")
    t0 = time.perf_counter()
    subprocess.run([str(snnc), "compile", str(model), "--target", "numba", "-o", str(work / "pkg")], check=True,
                   env=env, capture_output=True)
    t1 = time.perf_counter()
    lines = sum(len(p.read_text().splitlines()) for p in (work / "pkg").rglob("*.py"))
    env["SNNLANG_CACHE_DIR"] = str(work / "cache-compile")
    code = ("import time, numba, snnlang; t = time.perf_counter(); "
            f"snnlang.compile({str(model)!r}, target='numba'); print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True)
    return {"snnc_compile_s": t1 - t0, "lines": lines, "jit_compile_s": float(done.stdout.strip().splitlines()[-1])}


def worker_main(argv: list[str]) -> None:
    tool = argv[0]
    if tool == "nestml":
        result = run_nestml(Path(argv[1]))
    elif tool == "snnc":
        result = run_snnc(Path(argv[1]), int(argv[2]))
    else:
        n, duration, seed = int(argv[1]), float(argv[2]), int(argv[3])
        result = run_snnlang(n, duration, seed) if tool == "numba" else run_nest(n, duration, seed)
        result["compile_s"] = result["total_s"] - result["run_s"]
        result.update(N=n, seed=seed)
    pc.emit({"tool": tool, **result})


# ----------------------------------------------------------------------------- driver

def simulate(sizes: list[int], repeat: int, duration: float, seed0: int, tolerance: float, cold: bool,
             scratch: Path, log) -> list[str]:
    failures = []
    for n in sizes:
        res: dict[str, list[dict]] = {}
        if not cold:       # fill the user's cache first, so that "warm" is warm
            pc.worker(SCRIPT, ["numba", str(n), str(duration), str(seed0)])
        for k in range(repeat):
            seed = seed0 + k
            runs = [("NEST 3.10 iaf_psc_exp", "nest", None)]
            if cold:
                cache = scratch / f"snnlang-cache-{n}-{k}"
                runs += [("snnlang numba, cold cache", "numba", {"SNNLANG_CACHE_DIR": str(cache)}),
                         ("snnlang numba, warm cache", "numba", {"SNNLANG_CACHE_DIR": str(cache)})]
            else:
                runs += [("snnlang numba, warm cache", "numba", None)]
            for label, tool, env in runs:
                r = pc.worker(SCRIPT, [tool, str(n), str(duration), str(seed)], env=env)
                res.setdefault(label, []).append(r)
                log(f"  N={n} {label:<26} seed {seed}: compile {r['compile_s']:.2f} s, run {r['run_s']:.3f} s, "
                    f"rates E {r['rate_E']:.2f} / I {r['rate_I']:.2f} Hz")
            if cold:
                shutil.rmtree(scratch / f"snnlang-cache-{n}-{k}", ignore_errors=True)
        med = {label: {key: pc.median(r[key] for r in rs) for key in ("compile_s", "run_s", "total_s", "rate_E", "rate_I")}
               for label, rs in res.items()}
        ours = med["snnlang numba, warm cache"]
        rows = [[label, pc.seconds(m["compile_s"]), pc.seconds(m["run_s"]), pc.seconds(m["total_s"]),
                 pc.ratio(m["run_s"], ours["run_s"]), pc.ratio(m["total_s"], ours["total_s"]),
                 f"{m['rate_E']:.2f} ({pc.spread(r['rate_E'] for r in res[label]) or '-'})", f"{m['rate_I']:.2f}",
                 str(len(res[label]))] for label, m in med.items()]
        syn = res["NEST 3.10 iaf_psc_exp"][0]["synapses"]
        print(f"\nN = {n} (no plasticity; NEST made {syn:,} recurrent synapses; ratios: the tool's time / "
              "snnlang numba's, warm cache)")
        print(pc.table(["tool", "compile s", "run s", "total s", "run / snnlang", "total / snnlang",
                        "rate E Hz (range)", "rate I Hz", "runs"], rows), flush=True)
        for label, m in med.items():
            for pop in ("rate_E", "rate_I"):
                if abs(m[pop] - ours[pop]) > tolerance * max(m[pop], ours[pop]):
                    failures.append(f"N={n}: {label} {pop} {m[pop]:.2f} Hz vs snnlang {ours[pop]:.2f} Hz")
    return failures


def codegen(repeat: int, scratch: Path, n: int, log) -> None:
    nestml, snnc = [], []
    for k in range(repeat):
        work = scratch / f"codegen-{k}"
        work.mkdir(parents=True, exist_ok=True)
        nestml.append(pc.worker(SCRIPT, ["nestml", str(work)]))
        snnc.append(pc.worker(SCRIPT, ["snnc", str(work), str(n)]))
        log(f"  codegen {k}: NESTML {nestml[-1]['codegen_s']:.2f} s, snnc compile {snnc[-1]['snnc_compile_s']:.2f} s, "
            f"snnlang.compile {snnc[-1]['jit_compile_s']:.2f} s")
        shutil.rmtree(work, ignore_errors=True)
    gen = pc.median(r["codegen_s"] for r in nestml)
    rows = [["NESTML 9.0: stdp_synapse + iaf_psc_exp_neuron -> NEST C++ (no build)", pc.seconds(gen),
             pc.spread(r["codegen_s"] for r in nestml) or "-", str(nestml[0]["lines"]), "1.00x"]]
    for key, label in (("snnc_compile_s", f"snnc compile --target numba (E/I network, N={n}: Python package)"),
                       ("jit_compile_s", "snnlang.compile (parse to LLVM machine code)")):
        t = pc.median(r[key] for r in snnc)
        rows.append([label, pc.seconds(t), pc.spread(r[key] for r in snnc) or "-",
                     str(snnc[0]["lines"]) if key == "snnc_compile_s" else "-", pc.ratio(gen, t)])
    print(f"\nCode generation for STDP, empty caches, median of {repeat} (NESTML's import of "
          f"{pc.median(r['import_s'] for r in nestml):.2f} s not counted; snnc and snnlang.compile: whole processes)")
    print(pc.table(["what", "seconds", "range", "lines generated", "NESTML / this"], rows), flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 4000, 16000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", type=float, default=None, help="simulated seconds (default: the model's 1 s)")
    ap.add_argument("--tolerance", type=float, default=0.1, help="relative tolerance of the mean rates")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-cold", action="store_true", help="skip snnlang's cold-cache runs (use the user's cache)")
    ap.add_argument("--no-nestml", action="store_true", help="skip the code-generation comparison")
    ap.add_argument("--no-simulation", action="store_true", help="only the code-generation comparison")
    ap.add_argument("--quiet", action="store_true", help="print only the tables")
    args = ap.parse_args()
    duration = args.duration if args.duration is not None else pc.ei_constants(args.sizes[0])["duration"]
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    scratch = Path(tempfile.mkdtemp(prefix="snn-vs-nest-"))
    import numba
    print(f"E/I network of models/ei_stdp_net.snn without STDP ({duration:g} s at dt = 0.1 ms): snnlang numba "
          f"{numba.__version__} vs NEST; {args.repeat} repeat(s), medians; wall-clock seconds")
    print(f"machine: {pc.machine()}")
    failures = []
    try:
        if not args.no_simulation:
            failures = simulate(args.sizes, args.repeat, duration, args.seed, args.tolerance, not args.no_cold,
                                scratch, log)
        if not args.no_nestml:
            codegen(args.repeat, scratch, args.sizes[0], log)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        print("\n".join(["RATE MISMATCH:", *failures]))
        raise SystemExit(1)
    if not args.no_simulation:
        print(f"\nmean rates: NEST within {args.tolerance:.0%} of snnlang's")


if __name__ == "__main__":
    main()
