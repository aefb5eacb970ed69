"""What every compiled backend promises the runtime, checked against the reference executor on
the same small programs: a NaN or an infinity is reported with the state's name, the step and
the element, exactly where the reference reports it, and the run stops there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from snnlang.runtime.executable import NumericalError, Options
from snnlang_backends import numba as nb
from snnlang_backends import reference
from snnlang_backends import torch as tb

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import BLOW, TINY, free_run, ir_of  # noqa: E402

BUILDS = {"numba": nb.build, "torch": tb.build}


@pytest.mark.parametrize("backend", sorted(BUILDS))
def test_nan_and_inf_are_reported_like_the_reference(backend):
    model = ir_of(BLOW)
    for prepare in (lambda exe: None, lambda exe: exe.set("h.v", np.array([[1.0, 1.0, 1e300]]))):
        errors = []
        for build in (BUILDS[backend], reference.build):
            exe = build(model, "n", Options())
            prepare(exe)
            with pytest.raises(NumericalError) as info:
                free_run(exe, 5)
            errors.append((info.value.name, info.value.step_number, info.value.index, exe.step))
        assert errors[0] == errors[1]
    assert errors[0][:3] == ("h.v", 0, (0, 2))


@pytest.mark.parametrize("backend", sorted(BUILDS))
def test_nan_in_a_weight_names_the_weight(backend):
    model = ir_of(TINY.replace("w += lr * x_pre", "w *= 1e100"))
    exe = BUILDS[backend](model, "tiny", Options(seed=3))
    with pytest.raises(NumericalError) as info:
        free_run(exe, 500)
    ref = reference.build(model, "tiny", Options(seed=3))
    with pytest.raises(NumericalError) as ref_info:
        free_run(ref, 500)
    assert info.value.name == ref_info.value.name == "C.w"
    assert (info.value.step_number, info.value.index) == (ref_info.value.step_number, ref_info.value.index)
    assert exe.step == ref.step
