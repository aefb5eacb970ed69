"""Every shipped model either runs on Lava or yields its documented diagnostics.

The table is the one in docs/backends/lava.md ("The shipped models"). For each network of
models/*.snn the test compares the plan with its row (runs / does not compile, native owners,
diagnostic codes) and, for a network that runs, builds it under Loihi2SimCfg, runs a few steps
of its first phase and checks every state against the reference executor, bit for bit (all
shipped networks run as custom processes, whose arithmetic is the reference's).
A network without a row fails with a message saying to add one.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from snnlang.ir.lower import lower
from snnlang.runtime.executable import Options, PhaseRun
from snnlang.semantics.checker import check_path
from snnlang_backends import lava, reference

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "backends" / "lava.md"

pytestmark = pytest.mark.skipif(not lava.lava_available(),
                                reason="lava-nc is not installed (scripts/install.sh installs it)")


def documented() -> dict[tuple[str, str], tuple[str, set[str], set[str]]]:
    rows = {}
    text = DOC.read_text()
    section = text[text.index("## The shipped models"):]
    for line in section.split("\n"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].endswith(".snn"):
            natives = set() if cells[3] == "none" else {n.strip() for n in cells[3].split(",")}
            codes = {c.strip() for c in cells[4].split(",") if c.strip()}
            rows[(cells[0], cells[1])] = (cells[2], natives, codes)
    return rows


def networks() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "models").glob("*.snn")):
        checked = check_path(path)
        assert checked.ok, path
        out += [(path.name, name) for name in lower(checked).networks]
    return out


ROWS = documented()


def test_every_documented_row_is_a_shipped_network():
    shipped = set(networks())
    stale = sorted(set(ROWS) - shipped)
    assert not stale, f"docs/backends/lava.md lists networks that models/ no longer has: {stale}"


@pytest.mark.parametrize("file, network", networks())
def test_shipped_network_runs_or_gives_its_diagnostics(file, network):
    assert (file, network) in ROWS, (f"{file} network {network} has no row in docs/backends/lava.md "
                                     "('The shipped models'): run `snnc explain models/"
                                     f"{file} --target lava` and add it")
    outcome, natives, codes = ROWS[(file, network)]
    ir = lower(check_path(ROOT / "models" / file))
    try:
        plan = lava.plan(ir, network)
    except lava.PlanError as exc:
        assert outcome == "does not compile", str(exc)
        assert {d.code for d in exc.diagnostics if d.is_error} == codes
        for d in exc.diagnostics:          # each error points at its .snn line and says what to do
            assert d.span is not None and d.hints
        return
    assert outcome == "runs"
    assert set(plan.natives) == natives
    assert {d.code for d in plan.diagnostics} == codes
    net = ir.networks[network]
    exe = lava.build(ir, network, Options(seed=3))
    try:
        ref = reference.build(ir, network, Options(seed=3))
        data = {}
        for p in net.populations:
            if p.kind == "input" and not any(k in ("rate", "p") for k, _ in p.encoder_options):
                data[p.name] = np.ones((1, 4, p.size)) if p.encoder == "events" else np.full((1, p.size), 0.6)
            elif p.kind == "label":
                data[p.name] = np.array([1])
        phase = net.schedule.phases[0] if net.schedule else None
        run = PhaseRun(phase.name if phase else None, 4, phase.active if phase else None,
                       phase.plastic if phase else frozenset(), data, ())
        exe.run_phase(run)
        ref.run_phase(run)
        assert exe.state_names() == ref.state_names()
        for name in ref.state_names():
            np.testing.assert_array_equal(exe.get(name), ref.get(name), err_msg=name)
    finally:
        exe.close()
    assert multiprocessing.active_children() == []
