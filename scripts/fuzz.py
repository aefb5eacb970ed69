"""Fuzz the whole snnlang pipeline (check, lower, build, a short run) with generated model files.

    python scripts/fuzz.py --count 3000 --seed 0 --out fuzz-out

Exits 1 when any input ends in an internal error (a traceback), a hang or a dead worker, 0
otherwise. Every failure is written to OUT/<class>/ (the input, its traceback, and a reduced
`minimal.snn` per class); OUT/summary.txt and OUT/summary.json sum up. `--only I` reruns input
I of the seed alone and prints its full outcome. See docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from snnlang.fuzz import FAILURES, Generator, Runner, fuzz, write_failures  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=3000, help="generated inputs (default 3000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generator (default 0)")
    p.add_argument("--start", type=int, default=0, help="index of the first input (default 0)")
    p.add_argument("--only", type=int, default=None, metavar="I", help="run input I alone and print its outcome")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per input before it is a hang (default 10)")
    p.add_argument("--target", default="reference", help="backend of the build and run (default reference)")
    p.add_argument("--max-steps", type=int, default=5, help="steps of the run at most (default 5)")
    p.add_argument("--memory-mb", type=int, default=3072,
                   help="address-space limit of the worker (default 3072); the compiler's own limit "
                   "(SNNLANG_MEMORY_LIMIT) is set to a quarter of it")
    p.add_argument("--corpus", type=Path, default=None, metavar="DIR",
                   help="also run every .snn file in DIR first (e.g. tests/fuzz/corpus)")
    p.add_argument("--out", type=Path, default=Path("fuzz-out"), help="folder for failures (default fuzz-out)")
    p.add_argument("--minimize-s", type=float, default=60.0, help="seconds to reduce each failure class (0: off)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    runner = Runner(args.target, args.max_steps, args.timeout, args.memory_mb)
    try:
        if args.only is not None:
            item = Generator(args.seed)(args.only)
            outcome = runner.run(item.data, item.index)
            print(f"input {item.index} of seed {args.seed} ({item.family}: {item.how})\n{'-' * 60}")
            print(item.text)
            print(f"{'-' * 60}\n{outcome.status} in {outcome.stage} ({outcome.seconds:.2f} s): {outcome.signature}")
            print(outcome.detail)
            return 1 if outcome.status in FAILURES else 0
        extra = []
        if args.corpus is not None:
            extra = [(p.name, p.read_bytes()) for p in sorted(args.corpus.glob("*.snn"))]
        began = time.perf_counter()

        def progress(n: int, item, outcome) -> None:
            if outcome.status in FAILURES:
                print(f"\r[{n}] input {item.index}: {outcome.status}: {outcome.signature}", file=sys.stderr)
            if not args.quiet and (n % 25 == 0 or outcome.status in FAILURES):
                print(f"\r{n}/{args.count + len(extra)} inputs, {time.perf_counter() - began:.0f} s",
                      end="", file=sys.stderr, flush=True)

        report = fuzz(args.count, seed=args.seed, start=args.start, extra=extra, progress=progress, runner=runner)
        if not args.quiet:
            print(file=sys.stderr)
        write_failures(report, args.out, runner if args.minimize_s > 0 else None, args.minimize_s)
        print(report.summary())
        if report.classes:
            print(f"failures, their tracebacks and a reduced input per class: {args.out}/")
        return 1 if report.failures else 0
    finally:
        runner.close()


if __name__ == "__main__":
    sys.exit(main())
