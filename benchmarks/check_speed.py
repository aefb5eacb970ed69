"""How long parsing and checking a model takes in a warm process.

Goal (issue "The .snn language"): parse + check `models/biograd.snn` in under 300 ms warm.
Prints the median and spread over repeated runs, for each shipped model.

    python benchmarks/check_speed.py [--repeat 20] [FILES...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from snnlang.semantics.checker import check_path
from snnlang.syntax.parser import parse

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 300.0


def measure(path: Path, repeat: int) -> tuple[list[float], list[float]]:
    text = path.read_text()
    check_path(path)  # warm: grammar built, modules imported
    parse_ms, check_ms = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        parse(text, str(path))
        t1 = time.perf_counter()
        result = check_path(path)
        t2 = time.perf_counter()
        parse_ms.append((t1 - t0) * 1e3)
        check_ms.append((t2 - t1) * 1e3)
    if not result.ok:
        raise SystemExit(f"{path} does not check cleanly; fix it before timing it")
    return parse_ms, check_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    files = args.files or sorted((ROOT / "models").glob("*.snn"))
    print(f"{'model':<28}{'lines':>6}{'parse ms':>10}{'parse+check ms':>16}{'min..max':>16}  goal")
    for path in files:
        parse_ms, total_ms = measure(path, args.repeat)
        med = statistics.median(total_ms)
        lines = path.read_text().count("\n")
        verdict = "ok" if med < GOAL_MS else f"{med / GOAL_MS:.1f}x over"
        print(f"{path.name:<28}{lines:>6}{statistics.median(parse_ms):>10.1f}{med:>16.1f}"
              f"{min(total_ms):>8.1f}..{max(total_ms):<7.1f} {verdict}")
    print(f"(parse+check = check_path, which parses again and follows imports; goal < {GOAL_MS:.0f} ms)")


if __name__ == "__main__":
    main()
