"""Fuzzing the front end: no input, however broken, may produce a Python traceback.

Valid models are mutated token-wise (deletion, insertion of grammar keywords/punctuation
or of the file's own tokens, swaps), truncated, or sprinkled with random bytes and unicode;
every mutant goes through `check_text`, which must return diagnostics with known codes and
spans inside the text. Seeds: the shipped `models/*.snn`, any `examples/**/*.snn`, and the
embedded samples below (so the test never runs on nothing).

Hypothesis is derandomised (tests/conftest.py), so every run (and CI) tries the same mutants.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnlang.diagnostics import CODES, Severity, render
from snnlang.fuzz import grammar_literals, tokenize
from snnlang.semantics.checker import check_text
from snnlang.syntax.parser import TAB_LEN

ROOT = Path(__file__).resolve().parents[2]

SAMPLE_UNITS = '''\
"""A small conductance-free LIF network with STDP (units)."""

neuron LIF:
    """Leaky integrate-and-fire."""
    param tau_m = 20 ms
    param v_rest = -65 mV
    param v_th = -50 mV
    param R = 10 Ohm
    state v = v_rest
    input I_syn: nA
    dv/dt = (v_rest - v) / tau_m + R * I_syn / tau_m   using exact
    spike when v > v_th:
        v = v_rest
    refractory 2 ms

synapse STDP:
    param a_plus = 0.01
    param a_minus = 0.012
    param w_max = 1 nA
    state w = 0.5 nA
    trace x_pre: tau 20 ms on pre += 1
    trace x_post: tau 20 ms on post += 1
    on pre:
        post.I_syn += w
        w = clip(w - a_minus * x_post * w_max, 0 nA, w_max)
    on post:
        w = clip(w + a_plus * x_pre * w_max, 0 nA, w_max)

network demo:
    param T = 100
    input x = poisson(100, rate = 15 Hz)
    layer out = LIF(10, tau_m = 10 ms)
    connect W1: x -> out with STDP(sparse(p = 0.2))
    readout argmax(out.v)
    timestep 0.1 ms
    simulate 1 s at dt = 0.1 ms
    schedule:
        phase train(T):
            plastic W1
'''

SAMPLE_UNIT_FREE = '''\
"""A unit-free two-compartment network trained by feedback alignment."""

neuron MC:
    """Two compartments: basal (feed-forward) and apical (feedback)."""
    param theta = 0.4
    param g: float32 = 0.5
    state v = 0
    state q: fixed<8, scale = 2^-6, round = stochastic> = 0
    compartment basal:
        state c = 0
        input I_b
        c <- 0.5 * c + I_b
    compartment apical:
        input I_a
        trace e: sum I_a
    v <- 0.75 * v * (1 - spike) + basal.c + g * apical.e
    spike when v > theta:
        v -= theta
    event pos when v >= 1:
        v -= 1
    event neg when v <= -1
    trace n: sum on spike += 1
    trace r: decay 0.667 on spike += 1 as fixed<7>
    trace m: mean spike
    during feedback:
        trace fb: tau 4 on spike += 1
    at start of forward:
        v = 0

synapse FF:
    param lr = 1e-3
    state w = 0
    on pre:
        post.I_b += w
    every step:
        if w > 1:
            w = 1
        elif w < -1:
            w = -1 if pre.spike else w
        else:
            w *= 0.99
    during feedback:
        on post.pos:
            w += lr * post.n * pre.spike

synapse FB:
    state w = 0
    on pre:
        post.I_a += w

network demo:
    param T_f = 20
    input x = bernoulli(784, gain = 0.5)
    label y = onehot(10)
    layer hid = MC(100)
    population out = MC(10, theta = 0.3)
    connect W1: x -> hid.basal with FF(dense)
    connect W2: hid -> out.basal with FF(dense, lr = 2e-3)
    connect B2: out -> hid.apical with FB(dense):
        init w = uniform(-0.1, 0.1)
        tie w = transpose(W2.w)
        delay 1
    connect y -> out.apical with FB(one_to_one)
    readout argmax(out.n)
    metric align = angle(B2.w, transpose(W2.w))
    schedule:
        phase forward(T_f):
            active x, W1, W2
            plastic none
            reset all
        phase feedback(10):
            active y, B2
            plastic W1, W2
        phase sleep(5) every 100 samples
        infer forward
        batch mean
'''


def _seed_files() -> list[tuple[str, str]]:
    seeds = [("sample_units.snn", SAMPLE_UNITS), ("sample_unit_free.snn", SAMPLE_UNIT_FREE)]
    for folder in (ROOT / "models", ROOT / "examples"):
        for path in sorted(folder.rglob("*.snn")) if folder.is_dir() else ():
            try:
                seeds.append((path.name, path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    return seeds


SEEDS = _seed_files()

# the pipeline fuzzer's tokenizer and grammar literals (snnlang/fuzz.py): one notion of a token
_SEED_TOKENS = {name: tokenize(text) for name, text in SEEDS}


# ----------------------------------------------------------------- mutations


@st.composite
def mutants(draw) -> tuple[str, str]:
    name, text = draw(st.sampled_from(SEEDS))
    tokens = list(_SEED_TOKENS[name])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete", "insert", "insert_own", "swap", "truncate", "chars"]))
        n = len(tokens)
        if n == 0:
            tokens = [draw(st.sampled_from(grammar_literals()))]
            continue
        i = draw(st.integers(0, n - 1))
        if op == "delete":
            del tokens[i:i + draw(st.integers(1, 3))]
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(grammar_literals())))
        elif op == "insert_own":
            tokens.insert(i, draw(st.sampled_from(_SEED_TOKENS[name])))
        elif op == "swap":
            j = draw(st.integers(0, n - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "truncate":
            text_now = "".join(tokens)
            cut = draw(st.integers(0, len(text_now)))
            tokens = tokenize(text_now[:cut])
        else:  # random bytes (as latin-1 characters) or arbitrary unicode, inside a token
            extra = draw(st.one_of(
                st.binary(min_size=1, max_size=3).map(lambda b: b.decode("latin-1")),
                st.text(min_size=1, max_size=3),
            ))
            tok = tokens[i]
            k = draw(st.integers(0, len(tok)))
            tokens[i] = tok[:k] + extra + tok[k:]
    return name, "".join(tokens)


# ------------------------------------------------------------------ properties


def _physical_lines(text: str) -> list[str]:
    """Lines as the parser counts them (tabs expanded as the parser does)."""
    return [line.expandtabs(TAB_LEN) for line in text.replace("\r\n", "\n").split("\n")]


def assert_well_formed(text: str, file: str, tmp_path: Path) -> None:
    result = check_text(text, file=file, base=tmp_path)
    for d in result.diagnostics:
        assert d.code in CODES, d
        assert d.severity in (Severity.ERROR, Severity.WARNING, Severity.NOTE), d
        assert isinstance(d.message, str) and d.message, d
        if d.span is None:
            continue
        if d.span.file == file:
            lines = _physical_lines(text)
        else:  # a file the mutant imports (e.g. `lif.snn` from the shipped models)
            lines = _physical_lines(Path(d.span.file).read_text(encoding="utf-8"))
        assert 1 <= d.span.line <= len(lines), (d, len(lines))
        assert 1 <= d.span.col <= len(lines[d.span.line - 1]) + 1, (d, lines[d.span.line - 1])
        assert (d.span.end_line, d.span.end_col) >= (d.span.line, d.span.col), d
        render(d, result.sources)  # rendering never fails either
    if not any(d.is_error for d in result.diagnostics):
        assert result.module is not None


def test_seeds_are_clean(tmp_path):
    """The samples themselves check without errors (so the mutants start from valid models)."""
    for name, text in SEEDS[:2]:
        result = check_text(text, file=name, base=tmp_path)
        assert result.ok, [render(d, result.sources) for d in result.errors]


def _examples(n: int) -> int:
    """`n` under the default profile, proportionally more under fuzz-long (tests/conftest.py)."""
    return max(1, n * settings.default.max_examples // 100)


@settings(max_examples=_examples(2000))
@given(mutant=mutants())
def test_mutated_models_never_crash(mutant, tmp_path):
    name, text = mutant
    assert_well_formed(text, "mutant.snn", tmp_path)


@settings(max_examples=_examples(300))
@given(text=st.lists(st.sampled_from(grammar_literals() + ("N", "x", "v", "1", "2.5", "ms", " ", " ", "\n    ")),
                    max_size=40).map("".join))
def test_random_token_soup_never_crashes(text, tmp_path):
    assert_well_formed(text, "soup.snn", tmp_path)


@pytest.mark.parametrize("text", [
    "", "\n", "\t", "\r", "\r\n", "\x00", "\ufeff", "\u2028", "\x0c", '"', '"""', "#", "\\", ")", "(",
    "neuron", "neuron N:", "neuron N:\n  x", "neuron N:\n    dv/dt = ", "network n:\n    layer a = N(",
    "neuron N:\n    param a = 1\n  param b = 2\n", "neuron N:\n    param a = )\n", "neuron N:\n    param a = (\n",
    "synapse S:\n    on pre:\n        post.I += w\n", "from \"x.snn\" import A\n", "import \"\"\n",
    "neuron N:\n    param a = 2 ^ 99999\n", "neuron N:\n    param a = 1e999 mV\n",
    "network n:\n    layer a = N(1e400)\n", "network n:\n    input x = poisson(-1)\n",
    "neuron N:\n    state v: fixed<1e400> = 0\n", "neuron N:\n    state v: fixed<0.5> = 0\n",
])
def test_edge_inputs_never_crash(text, tmp_path):
    assert_well_formed(text, "edge.snn", tmp_path)
