"""The semantic checker on valid models: clean results, imports, and inferred dimensions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from snnlang.diagnostics import Severity, render
from snnlang.semantics.checker import CheckResult, check_path, check_text
from snnlang.semantics.symbols import BOOL
from snnlang.semantics.units import (
    CAPACITANCE, CONDUCTANCE, CURRENT, DIMENSIONLESS, FREQUENCY, TIME, VOLTAGE,
)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def clean(result: CheckResult) -> CheckResult:
    """The result, after asserting it has no errors and no warnings."""
    assert result.diagnostics == [], "\n\n".join(render(d, result.sources) for d in result.diagnostics)
    assert result.ok
    return result


MULTI_COMPARTMENT = dedent('''
    """Unit-free two-compartment network trained with feedback (in the style of BioGrad)."""

    neuron MC:
        """Basal compartment integrates feed-forward input, apical compartment feedback."""
        param theta = 0.4
        param g_a = 0.5
        state v = 0
        compartment basal:
            state c = 0
            input I
            c <- 0.5 * c + I
        compartment apical:
            state u = 0
            input I_fb
            u <- 0.8 * u + I_fb
            event pos when u >= 1:
                u -= 1
            event neg when u <= -1:
                u += 1
        v <- 0.75 * v * (1 - spike) + basal.c + g_a * apical.u
        spike when v > theta
        trace n: sum on spike += 1
        trace a: mean spike
        during feedback:
            trace e: decay 0.5 on spike += 1
        at start of forward:
            v = 0

    synapse FF:
        param lr = 1e-3
        state w = 0
        on pre:
            post.I += w
        on post.pos:
            w += lr * pre.spike
        on post.neg:
            w -= lr * pre.spike

    synapse FB:
        state w = 0
        on pre:
            post.I_fb += w

    network bio:
        param T_f = 20
        input x = poisson(784)
        label y = onehot(10)
        layer hid = MC(100)
        layer out = MC(10, theta = 0.3)
        connect W1: x -> hid.basal with FF(dense)
        connect W2: hid -> out.basal with FF(dense, lr = 2e-3)
        connect B2: out.pos -> hid.apical with FB(dense):
            init w = uniform(-0.1, 0.1)
            tie w = transpose(W2.w)
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
            infer forward
            batch mean
''')

LIF_LIBRARY = dedent('''
    """A little library: leaky integrate-and-fire and pair-based STDP (with units)."""

    neuron LIF:
        """Leaky integrate-and-fire."""
        param tau_m = 20 ms
        param v_rest = -65 mV
        param v_th = -50 mV
        param R = 100 MOhm
        state v = v_rest
        input I_syn: nA
        dv/dt = (v_rest - v) / tau_m + R * I_syn / tau_m
        spike when v > v_th:
            v = v_rest
        refractory 2 ms

    synapse STDP:
        """Pair-based STDP with a current-based synapse."""
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
''')

UNIT_NETWORK = dedent('''
    network stdp_demo:
        input x = poisson(100, rate = 15 Hz)
        layer out = LIF(10, tau_m = 10 ms)
        connect W: x -> out with STDP(sparse(p = 0.1))
        timestep 0.1 ms
        simulate 1 s
        schedule:
            phase train(100 ms):
                plastic W
''')


# ------------------------------------------------------------------ clean models


def test_multi_compartment_unit_free_model_is_clean():
    result = clean(check_text(MULTI_COMPARTMENT, "bio.snn"))
    mc = result.neurons["MC"].scope
    assert mc.unit_free and mc.time_dim == DIMENSIONLESS
    assert set(mc.compartments) == {"basal", "apical"}
    assert mc.symbols["c"].compartment == "basal" and mc.symbols["u"].compartment == "apical"
    assert mc.symbols["v"].compartment is None
    assert sorted(mc.events()) == ["neg", "pos", "spike"]
    assert mc.symbols["e"].phases == ("feedback",)
    net = result.networks["bio"]
    assert net.unit_free and net.phases == ["forward", "feedback"]
    assert {p: (info.kind, info.size) for p, info in net.populations.items()} == {
        "x": ("input", 784), "y": ("label", 10), "hid": ("population", 100), "out": ("population", 10)}
    assert [(c.name, c.source, c.target, c.plastic) for c in net.connections] == [
        ("W1", "x", "hid", True), ("W2", "hid", "out", True), ("B2", "out", "hid", False),
        (None, "y", "out", False)]
    assert result.synapses["FF"].scope.plastic_states == {"w"}
    assert result.synapses["FB"].scope.plastic_states == set()


def test_unit_model_with_correct_ode_is_clean():
    result = clean(check_text(LIF_LIBRARY + "\n" + UNIT_NETWORK, "stdp.snn"))
    lif = result.neurons["LIF"].scope
    assert not lif.unit_free and lif.time_dim == TIME
    net = result.networks["stdp_demo"]
    assert not net.unit_free and net.populations["out"].size == 10


@pytest.mark.parametrize("ode", [
    "dv/dt = (v_rest - v) / tau_m",
    "dv/dt = (v_rest - v) / tau_m + I / C",
    "dv/dt = (v_rest - v) / tau_m + g * (E - v) / C",
    "dv/dt = -(v - v_rest) * exp((v - v_th) / 2 mV) / tau_m",
    "dv/dt = (v_rest - v) / tau_m + sqrt(v_th^2) / 1 s",
    "dv/dt = 0 mV / ms",
    "dv/dt = (v_rest - v) * 50 Hz",
])
def test_dimensionally_correct_odes(ode):
    text = dedent(f"""
        neuron N:
            param tau_m = 20 ms
            param v_rest = -65 mV
            param v_th = -50 mV
            param C = 200 pF
            param g = 10 nS
            param E = 0 mV
            state v = v_rest
            input I: nA
            {ode}
            spike when v > v_th:
                v = v_rest
    """)
    clean(check_text(text, "ode.snn"))


def test_dimension_errors_are_caught_in_the_same_places():
    text = dedent("""
        neuron N:
            param tau_m = 20 ms
            param v_rest = -65 mV
            state v = v_rest
            dv/dt = (v_rest - v) * tau_m
    """)
    result = check_text(text, "ode.snn")
    assert [(d.code, d.span.line, d.span.col) for d in result.errors] == [("E304", 5, 13)]


# ------------------------------------------------------------------ imports


def test_import_library_from_a_folder(tmp_path: Path):
    (tmp_path / "lif.snn").write_text(LIF_LIBRARY, encoding="utf-8")
    main = tmp_path / "main.snn"
    main.write_text('import "lif.snn"\n\n' + UNIT_NETWORK, encoding="utf-8")
    result = clean(check_path(main))
    assert set(result.neurons) == {"LIF"} and set(result.synapses) == {"STDP"}
    assert result.module.imports[0].path == "lif.snn"
    assert "stdp_demo" in result.networks


def test_import_resolves_relative_to_the_importing_file_not_the_cwd(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "lif.snn").write_text(LIF_LIBRARY, encoding="utf-8")
    (lib / "net.snn").write_text('from "lif.snn" import LIF, STDP\n\n' + UNIT_NETWORK, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    clean(check_path(lib / "net.snn"))


def test_from_import_brings_only_the_named_definitions(tmp_path):
    (tmp_path / "lif.snn").write_text(LIF_LIBRARY, encoding="utf-8")
    main = tmp_path / "main.snn"
    main.write_text('from "lif.snn" import LIF\n\n' + UNIT_NETWORK, encoding="utf-8")
    result = check_path(main)
    assert set(result.neurons) == {"LIF"} and result.synapses == {}
    [err] = result.errors
    assert err.code == "E202" and "STDP" in err.message and Path(err.span.file) == main


def test_check_text_resolves_imports_from_base(tmp_path):
    (tmp_path / "lif.snn").write_text(LIF_LIBRARY, encoding="utf-8")
    result = clean(check_text('import "lif.snn"\n\n' + UNIT_NETWORK, "inline.snn", base=tmp_path))
    assert set(result.neurons) == {"LIF"}


def test_a_library_is_loaded_once_even_if_imported_twice(tmp_path):
    (tmp_path / "lif.snn").write_text(LIF_LIBRARY, encoding="utf-8")
    text = 'import "lif.snn"\nfrom "lif.snn" import LIF\n\n' + UNIT_NETWORK
    result = clean(check_text(text, "twice.snn", base=tmp_path))
    assert set(result.neurons) == {"LIF"}


def test_local_definition_clashing_with_an_import(tmp_path):
    (tmp_path / "lif.snn").write_text(LIF_LIBRARY, encoding="utf-8")
    text = 'from "lif.snn" import LIF\n\nneuron LIF:\n    state v = 0\n'
    result = check_text(text, "clash.snn", base=tmp_path)
    assert [(d.code, d.span.line) for d in result.errors] == [("E201", 3)]


# ------------------------------------------------------------------ dimension inference


@pytest.fixture(scope="module")
def hh() -> CheckResult:
    text = dedent("""
        neuron AdEx:
            param C = 281 pF
            param g_L = 30 nS
            param E_L = -70.6 mV
            param delta_T = 2 mV
            param v_T = -50.4 mV
            param tau_w = 144 ms
            param a = 4 nS
            state v = E_L
            state w = 0 nA
            state active = false
            input I: nA
            dv/dt = (g_L * (E_L - v) + g_L * delta_T * exp((v - v_T) / delta_T) + I - w) / C
            dw/dt = (a * (v - E_L) - w) / tau_w
            trace rate: tau 100 ms on spike += 1 Hz
            trace vs: sum v
            trace cnt: sum on spike += 1
            spike when v > 0 mV:
                v = E_L
                w += 80.5 pA
            refractory 2 ms

        synapse Cond:
            param g_max = 1 nS
            param E_syn = 0 mV
            state g = 0 nS
            trace x: tau 5 ms on pre += 1
            every step:
                post.I += g * (E_syn - post.v)
            on pre:
                g += g_max

        network net:
            param r = 20 Hz
            param T = 50 ms
            input x = poisson(10, rate = r)
            layer a = AdEx(5)
            connect x -> a with Cond(dense)
            timestep 0.1 ms
    """)
    return clean(check_text(text, "adex.snn"))


@pytest.mark.parametrize("name, dim", [
    ("C", CAPACITANCE), ("g_L", CONDUCTANCE), ("E_L", VOLTAGE), ("tau_w", TIME),
    ("v", VOLTAGE), ("w", CURRENT), ("I", CURRENT), ("active", DIMENSIONLESS),
    ("rate", FREQUENCY), ("vs", VOLTAGE), ("cnt", DIMENSIONLESS), ("spike", DIMENSIONLESS),
])
def test_neuron_dimensions_are_inferred(hh, name, dim):
    assert hh.neurons["AdEx"].scope.symbols[name].dim == dim


def test_inferred_types(hh):
    symbols = hh.neurons["AdEx"].scope.symbols
    assert symbols["active"].type == BOOL and symbols["spike"].type == BOOL
    assert symbols["v"].type.kind == "float"
    assert {s.kind for s in symbols.values()} == {"param", "state", "input", "trace", "event"}


def test_synapse_and_network_dimensions(hh):
    cond = hh.synapses["Cond"]
    assert cond.symbols["g"].dim == CONDUCTANCE and cond.symbols["E_syn"].dim == VOLTAGE
    assert cond.symbols["x"].dim == DIMENSIONLESS and cond.symbols["x"].trace_side == "pre"
    assert cond.scope.plastic_states == {"g"}
    params = hh.networks["net"].params
    assert params["r"].dim == FREQUENCY and params["r"].const == 20
    assert params["T"].dim == TIME and params["T"].const == pytest.approx(0.05)


def test_quantities_are_converted_to_si():
    result = clean(check_text("network n:\n    param a = 2.5 ms\n    param b = 3 kHz\n    param c = 1 / ms\n"
                              "    param d = 2 * a\n", "si.snn"))
    p = result.networks["n"].params
    assert p["a"].const == pytest.approx(2.5e-3) and p["b"].const == pytest.approx(3e3)
    assert p["c"].const == pytest.approx(1e3) and p["c"].dim == FREQUENCY
    assert p["d"].const == pytest.approx(5e-3) and p["d"].dim == TIME


def test_unit_names_are_shadowed_by_variables():
    text = dedent("""
        neuron Gate:
            param tau = 10 ms
            state m = 0.5
            state s = 0
            dm/dt = (1 - m) / tau
            ds/dt = m / tau - s / tau
    """)
    result = clean(check_text(text, "gate.snn"))
    symbols = result.neurons["Gate"].scope.symbols
    assert symbols["m"].dim == DIMENSIONLESS and symbols["s"].dim == DIMENSIONLESS


def test_unit_typed_declarations():
    text = dedent("""
        neuron Typed:
            param tau = 10 ms
            state v: mV = 0
            state r: mV / ms = 0
            input I: nA
            dv/dt = r
            r <- -v / tau
    """)
    result = clean(check_text(text, "typed.snn"))
    symbols = result.neurons["Typed"].scope.symbols
    assert symbols["v"].dim == VOLTAGE and symbols["r"].dim == VOLTAGE / TIME and symbols["I"].dim == CURRENT


def test_errors_and_warnings_are_sorted_and_deduplicated():
    text = dedent("""
        neuron N:
            param tau = 10
            state v = 0
            dv/dt = -v / tauu + foo
            spike when v > 1

        synapse S:
            on pre:
                post.I += 1

        network n:
            input x = poisson(4)
            layer a = N(4)
            layer b = N(4)
            connect x -> a with S(dense)
            connect x -> b with S(dense)
    """)
    result = check_text(text, "sorted.snn")
    located = [(d.span.line, d.span.col) for d in result.diagnostics]
    assert located == sorted(located)
    # the synapse is checked once per connection; its error is reported once
    assert [(d.code, d.span.line) for d in result.diagnostics] == [
        ("E200", 4), ("E200", 4), ("E200", 9)]
    assert all(d.severity is Severity.ERROR for d in result.diagnostics)


# ------------------------------------------------------------------ regressions


@pytest.mark.parametrize("separator", ["\x0c", "\u2028", "\x1c", "\x85"])
def test_rendered_source_line_is_the_reported_line(separator):
    # `str.splitlines` would split at these characters; the parser does not
    text = f"neuron N:\n    # comment {separator} here\n    state v = 0\n    dv/dt = -v / tauu\n"
    result = check_text(text, "sep.snn")
    [d] = result.errors
    assert (d.code, d.span.line) == ("E200", 4)
    assert " 4 |     dv/dt = -v / tauu" in render(d, result.sources)


def test_messages_keep_the_parentheses_of_the_source():
    text = dedent("""
        neuron N:
            param tau = 10 ms
            param v0 = -65 mV
            state v = v0
            dv/dt = (v0 - v) / tau + (v0 - v) * (v0 - v)
    """)
    [d] = check_text(text, "paren.snn").errors
    assert d.code == "E300"
    assert "`(v0 - v) * (v0 - v)` to `(v0 - v) / tau`" in d.message


def test_an_unknown_unit_causes_no_follow_on_errors():
    text = dedent("""
        neuron N:
            param tau = 20 msec
            param v0 = -65 mV
            state v = v0
            input I: mVolt / ms
            dv/dt = (v0 - v) / tau + I
    """)
    errors = check_text(text, "unit.snn").errors
    assert [(d.code, d.span.line) for d in errors] == [("E301", 2), ("E301", 5)]


def test_a_dimension_mismatch_is_reported_once_not_again_by_the_ode():
    text = dedent("""
        neuron N:
            param tau = 20 ms
            param v0 = -65 mV
            state v = v0
            dv/dt = (v0 - v) + tau
    """)
    assert [d.code for d in check_text(text, "once.snn").errors] == ["E300"]


def test_unknown_neuron_type_gives_no_errors_in_the_synapse():
    text = dedent("""
        synapse S:
            param w = 1
            on pre:
                post.I += w + post.v
        network n:
            input x = poisson(3)
            layer a = Nope(3)
            connect x -> a with S(dense)
    """)
    assert [d.code for d in check_text(text, "cascade.snn").errors] == ["E202"]


def test_import_with_an_impossible_file_name_is_not_found(tmp_path):
    result = check_text('import "' + "x" * 400 + '.snn"\n', "long.snn", base=tmp_path)
    assert [d.code for d in result.errors] == ["E701"]


@pytest.mark.parametrize("size", ["1e400", "1e300 * 1e300", "2 ^ 5000"])
def test_infinite_constants_are_not_sizes(size):
    # reported once, as the constant it is (E107), not again as a size (E600)
    text = f"neuron N:\n    state v = 0\n\nnetwork n:\n    layer a = N({size})\n"
    assert [d.code for d in check_text(text, "inf.snn").errors] == ["E107"]
