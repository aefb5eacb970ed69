"""How long `snnlang.compile` takes in a new process once the compile cache is warm.

Goal (issue "Compiler core"): a second `snnlang.compile` of an unchanged model in a new
process takes under 0.5 s. For each shipped network this script compiles once (filling
the cache: generated module + numba's machine code), then starts `--repeat` fresh
processes that each time `import snnlang` and `snnlang.compile(...)` separately, and
prints medians and the spread. The first (cold) compile is printed too, for contrast;
use --cold to clear this model's cache entries first (slow: numba compiles from scratch).

    python benchmarks/compile_cache.py [--repeat 5] [--target numba] [--cold] [FILE[:NETWORK] ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 0.5

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import snnlang
t1 = time.perf_counter()
model = snnlang.compile(sys.argv[1], target=sys.argv[2], network=sys.argv[3] or None)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "compile": t2 - t1}))
"""


def in_new_process(path: Path, network: str, target: str, env=None) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), target, network], capture_output=True,
                         text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def networks(path: Path) -> list[str]:
    from snnlang.ir.lower import lower
    from snnlang.semantics.checker import check_path
    return list(lower(check_path(path)).networks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", help="FILE or FILE:NETWORK (default: every shipped network)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--target", default="numba")
    ap.add_argument("--cold", action="store_true", help="use an empty cache directory for the first compile")
    args = ap.parse_args()
    cases = []
    for spec in args.models or [str(p) for p in sorted((ROOT / "models").glob("*.snn"))]:
        file, _, net = spec.partition(":")
        cases += [(Path(file), n) for n in ([net] if net else networks(Path(file)))]
    env = None
    if args.cold:
        import os
        import tempfile
        env = dict(os.environ, SNNLANG_CACHE_DIR=tempfile.mkdtemp(prefix="snnlang-cold-"))
    print(f"target {args.target}; {args.repeat} new processes per network after one warming compile")
    print(f"{'network':<30}{'first s':>9}{'import s':>10}{'compile s':>11}{'min..max':>14}  goal < {GOAL_S} s")
    worst = 0.0
    for path, net in cases:
        first = in_new_process(path, net, args.target, env)
        runs = [in_new_process(path, net, args.target, env) for _ in range(args.repeat)]
        comp = [r["compile"] for r in runs]
        med = statistics.median(comp)
        worst = max(worst, med)
        verdict = "ok" if med < GOAL_S else f"{med / GOAL_S:.1f}x over"
        print(f"{path.stem + ':' + net:<30}{first['compile']:>9.2f}{statistics.median(r['import'] for r in runs):>10.2f}"
              f"{med:>11.3f}{min(comp):>7.3f}..{max(comp):<6.3f} {verdict}")
    print(f"(compile = the snnlang.compile call in a new process: parse, check, lower, cache lookup, "
          f"load; import = `import snnlang`)\nslowest median: {worst:.3f} s")


if __name__ == "__main__":
    main()
