"""snnlang (numba) against Brian2 on one network: compile time, run time, total, mean rates.

The network is models/ei_stdp_net.snn: N LIF neurons (80 % excitatory), exponential current
synapses (tau_e = 5 ms, tau_i = 10 ms), 2 % random connectivity between every pair of
populations, additive pair STDP on E -> E, an independent 2 kHz Poisson drive into every
neuron, 1 s at dt = 0.1 ms. The same network is written here in Brian2, with its constants
read from the lowered .snn (peer_common.ei_constants), so the two cannot drift apart.

For each N, every tool runs `--repeat` times, each time in a new process with a new seed:
  snnlang numba, cold      a new, empty compile cache (parse, check, lower, generate, LLVM)
  snnlang numba, warm      the cache of the cold run (a second process on the same model)
  Brian2 numpy             runtime code generation, NumPy
  Brian2 cython, cold      once, into a new cache folder (`prefs.codegen.runtime.cython.cache_dir`)
  Brian2 cython, warm      that folder again
  Brian2 cpp_standalone    a new build folder: code generation, `make`, run of the binary
Times (wall clock, medians over the repeats):
  run       the steady-state loop over the 10,000 steps: `Model.run` (no recording) for
            snnlang; `device._last_run_time` for Brian2 (its network loop, as its own binary
            reports it for cpp_standalone)
  total     from the first call into the tool (after importing it and its dependencies:
            brian2; snnlang and numba) to the end of the simulation: building the network,
            generating and compiling code (or loading it from a cache), the run
  compile   total - run (everything before the loop; for cpp_standalone also the binary's
            start and its synapse creation)
The mean rates of E and I must agree between snnlang and every Brian2 target within
`--tolerance` (relative): the runs use different random numbers, so they agree only
statistically; the spread of the rates over the repeats is printed to show how much they vary.

    python benchmarks/simulate_vs_brian2.py                         # N = 1000 4000 16000, 3 repeats
    python benchmarks/simulate_vs_brian2.py --sizes 4000 --repeat 5 --tools numba cpp_standalone
    python benchmarks/simulate_vs_brian2.py --sizes 400 --repeat 1 --duration 0.1 --tools numba numpy --no-cold

Needs the peers extra (brian2, cython) and a C++ compiler for cython / cpp_standalone.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_common as pc  # noqa: E402

TOOLS = ("numba", "numpy", "cython", "cpp_standalone")
SCRIPT = Path(__file__).resolve()


# ----------------------------------------------------------------------------- workers

def run_snnlang(n: int, duration: float, seed: int) -> dict:
    source = pc.ei_network_file(n)
    t0 = time.perf_counter()
    import numba  # noqa: F401 - the backend's dependency: part of the import, as brian2's are
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
            "rate_I": rates["rate_I"], "synapses": synapses, "steps": steps}


def run_brian2(target: str, n: int, duration: float, seed: int, work: Path) -> dict:
    """The network in Brian2, as its documentation writes such a model (NeuronGroup with
    subgroups, Synapses with event-driven STDP traces, PoissonInput for the drive)."""
    t0 = time.perf_counter()
    import brian2 as b2
    t1 = time.perf_counter()
    k = pc.ei_constants(n)
    b2.prefs.codegen.runtime.cython.cache_dir = str(work / "cython_cache")
    b2.prefs.logging.console_log_level = "ERROR"
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", build_on_run=False, directory=str(work / "standalone"))
    else:
        b2.prefs.codegen.target = target
    b2.seed(seed)
    b2.defaultclock.dt = k["dt"] * b2.second
    ns = {"tau_m": k["tau_m"] * b2.second, "tau_e": k["tau_e"] * b2.second, "tau_i": k["tau_i"] * b2.second,
          "v_rest": k["v_rest"] * b2.volt, "v_reset": k["v_reset"] * b2.volt, "v_th": k["v_th"] * b2.volt,
          "R": k["R"] * b2.ohm, "J_E": k["J_E"] * b2.amp, "J_I": k["J_I"] * b2.amp,
          "w_max": k["w_max"] * b2.amp, "a_plus": k["a_plus"], "a_minus": k["a_minus"],
          "tau_pre": k["tau_pre"] * b2.second, "tau_post": k["tau_post"] * b2.second}
    eqs = """dv/dt = (v_rest - v + R * (I_e + I_i)) / tau_m : volt (unless refractory)
             dI_e/dt = -I_e / tau_e : amp
             dI_i/dt = -I_i / tau_i : amp"""
    n_e = int(k["N_E"])
    group = b2.NeuronGroup(int(k["N"]), eqs, threshold="v > v_th", reset="v = v_reset",
                           refractory=k["t_ref"] * b2.second, method="exact", namespace=ns)
    group.v = ns["v_rest"]
    exc, inh = group[:n_e], group[n_e:]
    drive = b2.PoissonInput(group, "I_e", N=1, rate=k["rate_ext"] * b2.Hz, weight=k["J_ext"] * b2.amp)
    # the .snn's STDP: depression by the post trace at a pre spike, potentiation by the pre trace
    # at a post spike, each before that spike's own trace increment
    ee = b2.Synapses(exc, exc, """w : amp
                                  dapre/dt = -apre / tau_pre : 1 (event-driven)
                                  dapost/dt = -apost / tau_post : 1 (event-driven)""",
                     on_pre="""I_e_post += w
                               w = clip(w - a_minus * w_max * apost, 0 * amp, w_max)
                               apre += 1""",
                     on_post="""w = clip(w + a_plus * w_max * apre, 0 * amp, w_max)
                                apost += 1""", namespace=ns)
    ee.connect(p=k["p"])
    ee.w = ns["J_E"]
    ei = b2.Synapses(exc, inh, on_pre="I_e_post += J_E", namespace=ns)
    ei.connect(p=k["p"])
    ie = b2.Synapses(inh, exc, on_pre="I_i_post -= J_I", namespace=ns)
    ie.connect(p=k["p"])
    ii = b2.Synapses(inh, inh, on_pre="I_i_post -= J_I", namespace=ns)
    ii.connect(p=k["p"])
    counts = b2.SpikeMonitor(group, record=False)
    net = b2.Network(group, drive, ee, ei, ie, ii, counts)
    net.run(duration * b2.second, namespace=ns)
    if target == "cpp_standalone":
        b2.device.build(directory=str(work / "standalone"), compile=True, run=True, debug=False)
    t2 = time.perf_counter()
    import numpy as np
    count = np.asarray(counts.count)
    synapses = len(ee) + len(ei) + len(ie) + len(ii)
    return {"import_s": t1 - t0, "total_s": t2 - t1, "run_s": float(b2.device._last_run_time),
            "rate_E": float(count[:n_e].mean() / duration), "rate_I": float(count[n_e:].mean() / duration),
            "synapses": int(synapses), "steps": round(duration / k["dt"])}


def worker_main(argv: list[str]) -> None:
    tool, n, duration, seed, work = argv[0], int(argv[1]), float(argv[2]), int(argv[3]), Path(argv[4])
    result = run_snnlang(n, duration, seed) if tool == "numba" else run_brian2(tool, n, duration, seed, work)
    result["compile_s"] = result["total_s"] - result["run_s"]
    pc.emit({"tool": tool, "N": n, "seed": seed, **result})


# ----------------------------------------------------------------------------- driver

def measure(tools: list[str], n: int, repeat: int, duration: float, scratch: Path, seed0: int,
            log, cold: bool = True) -> dict[str, list[dict]]:
    """label -> results of the repeats (label: tool, plus cold / warm for the cached ones)."""
    out: dict[str, list[dict]] = {}
    if "numba" in tools and not cold:    # fill the user's cache first, so that "warm" is warm
        pc.worker(SCRIPT, ["numba", str(n), str(duration), str(seed0), str(scratch)])

    def run(label: str, tool: str, seed: int, work: Path, env=None) -> None:
        r = pc.worker(SCRIPT, [tool, str(n), str(duration), str(seed), str(work)], env=env)
        out.setdefault(label, []).append(r)
        log(f"  {label:<28} seed {seed}: compile {r['compile_s']:.2f} s, run {r['run_s']:.3f} s, "
            f"rates E {r['rate_E']:.2f} / I {r['rate_I']:.2f} Hz")

    for k in range(repeat):
        seed = seed0 + k
        if "numba" in tools and not cold:
            run("snnlang numba, warm cache", "numba", seed, scratch)
        elif "numba" in tools:
            cache = scratch / f"snnlang-cache-{n}-{k}"
            env = {"SNNLANG_CACHE_DIR": str(cache)}
            run("snnlang numba, cold cache", "numba", seed, scratch, env)
            run("snnlang numba, warm cache", "numba", seed, scratch, env)
            shutil.rmtree(cache, ignore_errors=True)
        if "numpy" in tools:
            run("Brian2 numpy", "numpy", seed, scratch / f"b2-numpy-{n}")
        if "cython" in tools:
            work = scratch / f"b2-cython-{n}"
            if k == 0:
                run("Brian2 cython, cold cache", "cython", seed, work)
            run("Brian2 cython, warm cache", "cython", seed, work)
        if "cpp_standalone" in tools:
            work = scratch / f"b2-standalone-{n}-{k}"
            run("Brian2 cpp_standalone", "cpp_standalone", seed, work)
            shutil.rmtree(work, ignore_errors=True)
    return out


def report(n: int, results: dict[str, list[dict]], tolerance: float) -> tuple[str, list[str]]:
    """The table for one N, and the rate checks that failed."""
    med = {label: {key: pc.median(r[key] for r in rs) for key in ("compile_s", "run_s", "total_s", "rate_E", "rate_I")}
           for label, rs in results.items()}
    ours = med.get("snnlang numba, warm cache")
    rows = []
    for label, m in med.items():
        rs = results[label]
        rows.append([label, pc.seconds(m["compile_s"]), pc.seconds(m["run_s"]), pc.seconds(m["total_s"]),
                     pc.ratio(m["run_s"], ours and ours["run_s"]), pc.ratio(m["total_s"], ours and ours["total_s"]),
                     f"{m['rate_E']:.2f} ({pc.spread(r['rate_E'] for r in rs) or '-'})",
                     f"{m['rate_I']:.2f}", str(len(rs))])
    header = ["tool", "compile s", "run s", "total s", "run / snnlang", "total / snnlang", "rate E Hz (range)",
              "rate I Hz", "runs"]
    failures = []
    if ours:
        for label, m in med.items():
            for pop in ("rate_E", "rate_I"):
                if abs(m[pop] - ours[pop]) > tolerance * max(m[pop], ours[pop]):
                    failures.append(f"N={n}: {label} {pop} {m[pop]:.2f} Hz vs snnlang {ours[pop]:.2f} Hz "
                                    f"(more than {tolerance:.0%} apart)")
    return pc.table(header, rows), failures


def goals(all_results: dict[int, dict[str, dict]]) -> list[str]:
    """The issue's goals at each N: numba run <= cpp_standalone run; numba total >= 5x faster
    than Brian2 cython (warm cache) compile + run."""
    lines = []
    for n, res in all_results.items():
        med = {label: {key: pc.median(r[key] for r in rs) for key in ("run_s", "total_s")} for label, rs in res.items()}
        ours = med.get("snnlang numba, warm cache")
        cold = med.get("snnlang numba, cold cache")
        if not ours:
            continue
        if "Brian2 cpp_standalone" in med:
            r = med["Brian2 cpp_standalone"]["run_s"] / ours["run_s"]
            lines.append(f"N={n}: run time, cpp_standalone / snnlang = {r:.2f}x (goal >= 1): "
                         f"{'met' if r >= 1 else 'missed'}")
        if "Brian2 cython, warm cache" in med:
            r = med["Brian2 cython, warm cache"]["total_s"] / ours["total_s"]
            lines.append(f"N={n}: compile + run, cython (warm) / snnlang (warm) = {r:.2f}x (goal >= 5): "
                         f"{'met' if r >= 5 else 'missed'}")
            if cold:
                rc = med["Brian2 cython, warm cache"]["total_s"] / cold["total_s"]
                lines.append(f"N={n}: compile + run, cython (warm) / snnlang (cold) = {rc:.2f}x")
    return lines


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 4000, 16000], help="network sizes N")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", type=float, default=None, help="simulated seconds (default: the model's 1 s)")
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    ap.add_argument("--tolerance", type=float, default=0.1, help="relative tolerance of the mean rates")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scratch", type=Path, default=None, help="folder for caches and builds (default: a temporary one)")
    ap.add_argument("--quiet", action="store_true", help="print only the tables")
    ap.add_argument("--no-cold", action="store_true", help="skip snnlang's cold-cache runs (use the user's cache)")
    args = ap.parse_args()
    duration = args.duration if args.duration is not None else pc.ei_constants(args.sizes[0])["duration"]
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="snn-vs-brian2-"))
    scratch.mkdir(parents=True, exist_ok=True)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    import brian2
    import numba
    print(f"E/I network of models/ei_stdp_net.snn ({duration:g} s at dt = 0.1 ms), snnlang numba {numba.__version__} "
          f"vs Brian2 {brian2.__version__}; {args.repeat} repeat(s), medians; wall-clock seconds")
    print(f"machine: {pc.machine()}")
    all_results, failures = {}, []
    try:
        for n in args.sizes:
            log(f"N = {n}:")
            all_results[n] = measure(args.tools, n, args.repeat, duration, scratch, args.seed, log, not args.no_cold)
            text, bad = report(n, all_results[n], args.tolerance)
            syn = all_results[n][next(iter(all_results[n]))][0]["synapses"]
            print(f"\nN = {n} ({syn:,} synapses; ratios: the tool's time / snnlang numba's, warm cache)")
            print(text, flush=True)
            failures += bad
    finally:
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print()
    for line in goals(all_results):
        print(line)
    if failures:
        print("\n".join(["RATE MISMATCH:", *failures]))
        raise SystemExit(1)
    print(f"mean rates: every tool within {args.tolerance:.0%} of snnlang's")


if __name__ == "__main__":
    main()
