"""Nonsense values are refused at the value itself: time steps, durations, rates, delays,
refractory periods and sizes that no simulation can mean (E405, E600, E603, E608-E611)."""

from __future__ import annotations

import textwrap

import pytest

from snnlang.diagnostics import render_all
from snnlang.ir.lower import lower
from snnlang.semantics.checker import CheckResult, check_text

UNITS = textwrap.dedent('''
    neuron LIF:
        param tau = 10 ms
        state v = 0
        input I
        dv/dt = (I - v) / tau
        spike when v > 1
        refractory REFRACTORY

    synapse Static:
        param w = 0.5
        on pre:
            post.I += w

    network net:
        param T = 50 ms
        input x = poisson(20, rate = RATE)
        layer hid = LIF(SIZE)
        connect x -> hid with Static(dense):
            delay DELAY
        simulate DURATION at dt = DT
        schedule:
            phase train(PHASE):
                active all
''').lstrip()

UNIT_FREE = textwrap.dedent('''
    neuron Cell:
        input I
        state v = 0
        v <- 0.5 * v * (1 - spike) + I
        spike when v > 0.5

    synapse Drive:
        state w = 0.6
        on pre:
            post.I += w

    network net:
        input x = ENCODER
        layer hid = Cell(SIZE)
        connect x -> hid with Drive(dense):
            delay DELAY
        simulate DURATION
''').lstrip()

UNIT_DEFAULTS = dict(REFRACTORY="2 ms", RATE="20 Hz", SIZE="10", DELAY="0", DURATION="100 ms",
                     DT="0.1 ms", PHASE="T")
UNIT_FREE_DEFAULTS = dict(ENCODER="poisson(20, rate = 0.1)", SIZE="10", DELAY="1", DURATION="100")


def source(template: str, defaults: dict[str, str], **values: str) -> str:
    text = template
    for key, value in {**defaults, **values}.items():
        text = text.replace(key, value)
    return text


def unit_model(**values: str) -> CheckResult:
    return check_text(source(UNITS, UNIT_DEFAULTS, **values))


def unit_free_model(**values: str) -> CheckResult:
    return check_text(source(UNIT_FREE, UNIT_FREE_DEFAULTS, **values))


def only_error(result: CheckResult, code: str, text: str, needle: str) -> None:
    """Exactly one error, `code`, whose span starts at `text` on the line containing `needle`."""
    rendered = render_all(result.errors, result.sources)
    assert [d.code for d in result.errors] == [code], rendered
    span = result.errors[0].span
    line = result.sources.line(span.file, span.line)
    assert needle in line, rendered
    assert line[span.col - 1:].startswith(text), rendered


def test_the_templates_are_valid():
    for result in (unit_model(), unit_free_model()):
        assert result.ok, render_all(result.errors, result.sources)


# ------------------------------------------------------------------------ time step (E608)

@pytest.mark.parametrize("dt", ["0 ms", "-1 ms", "-0.1 ms"])
def test_time_step_must_be_positive(dt):
    only_error(unit_model(DT=dt), "E608", dt, "simulate")


@pytest.mark.parametrize("dt", ["1e300 ms", "1e-20 ms", "2000 s"])
def test_an_absurd_time_step_is_refused(dt):
    only_error(unit_model(DT=dt), "E608", dt, "simulate")


def test_timestep_line_is_checked_too():
    text = source(UNIT_FREE, UNIT_FREE_DEFAULTS).replace("simulate 100", "timestep -1")
    only_error(check_text(text), "E608", "-1", "timestep")


def test_a_non_finite_time_step_is_refused():
    # 1e999 folds to infinity: whichever check reports it (the generic one for constants that
    # are not finite), the model must not pass, and there must be no follow-on range error
    result = unit_model(DT="1e999 ms")
    assert not result.ok
    lines = {result.sources.line(d.span.file, d.span.line) for d in result.errors}
    assert all("1e999 ms" in line for line in lines), render_all(result.errors, result.sources)
    assert "E609" not in {d.code for d in result.errors}


def test_the_checker_and_lowering_share_the_default_step():
    from snnlang.ir import lower as lowering
    from snnlang.semantics import network
    assert lowering.DEFAULT_UNIT_DT is network.DEFAULT_UNIT_DT


# ------------------------------------------------------------------ durations (E609, E603)

@pytest.mark.parametrize("duration", ["0", "-5"])
def test_simulate_zero_or_negative_is_refused(duration):
    # `simulate 0` ran 1000 steps: 0 steps read as "no simulate line"
    only_error(unit_free_model(DURATION=duration), "E609", duration, "simulate")


def test_simulate_shorter_than_a_step_is_refused():
    only_error(unit_model(DURATION="0.01 ms"), "E609", "0.01 ms", "simulate")


def test_simulate_with_more_steps_than_can_be_counted_is_refused():
    only_error(unit_model(DURATION="1e20 s"), "E609", "1e20 s", "simulate")


def test_a_negative_phase_duration_is_refused():
    only_error(unit_model(PHASE="-50 ms"), "E603", "-50 ms", "phase")


def test_a_phase_shorter_than_a_step_is_refused():
    only_error(unit_model(PHASE="0.01 ms"), "E603", "0.01 ms", "phase")


def test_a_phase_beyond_2_to_the_53_steps_is_refused():
    only_error(unit_model(PHASE="1e15 s"), "E603", "1e15 s", "phase")


def test_a_phase_length_held_in_a_parameter_is_a_duration():
    # `phase train(T)` with `param T = 50 ms` lowered to int(0.05) = 0 steps: the lowering
    # decided "time or steps" by spelling (a unit written in the expression), not by dimension
    ir = lower(unit_model())
    phase = ir.networks["net"].schedule.phases[0]
    assert phase.steps == 500
    assert float(phase.steps_expr.subs("T", 0.05)) == pytest.approx(500)


# ---------------------------------------------------------------------------- rates (E610)

def test_a_negative_rate_is_refused():
    only_error(unit_model(RATE="-5 Hz"), "E610", "-5 Hz", "poisson")


def test_a_rate_above_one_spike_per_step_is_refused():
    only_error(unit_model(RATE="20 kHz"), "E610", "20 kHz", "poisson")      # 1/dt = 10 kHz
    assert unit_model(RATE="10 kHz").ok


def test_a_unit_free_rate_is_a_probability_per_step():
    only_error(unit_free_model(ENCODER="poisson(20, rate = 1.5)"), "E610", "1.5", "poisson")
    only_error(unit_free_model(ENCODER="poisson(20, rate = -0.1)"), "E610", "-0.1", "poisson")


def test_a_non_finite_rate_is_refused():
    assert not unit_model(RATE="1e999 Hz").ok


@pytest.mark.parametrize("encoder,value", [("bernoulli(20, p = -0.5)", "-0.5"),
                                           ("bernoulli(20, p = 2)", "2"),
                                           ("poisson(20, gain = -1)", "-1"),
                                           ("latency(20, window = 0)", "0")])
def test_encoder_options_out_of_range(encoder, value):
    only_error(unit_free_model(ENCODER=encoder), "E610", value, "input")


# --------------------------------------------------------------------------- delays (E611)

@pytest.mark.parametrize("delay", ["-2 ms", "-1"])
def test_a_negative_delay_is_refused(delay):
    only_error(unit_model(DELAY=delay), "E611", delay, "delay")


def test_a_fractional_number_of_steps_is_refused():
    only_error(unit_free_model(DELAY="2.5"), "E611", "2.5", "delay")


def test_a_delay_is_a_time_by_its_dimension():
    # `delay 1 s` was read as one step (a whole number >= 1 counted steps whatever its unit)
    ir = lower(unit_model(DELAY="1 s"))
    assert ir.networks["net"].connections[0].delay_steps == 10_000
    assert lower(unit_model(DELAY="3")).networks["net"].connections[0].delay_steps == 3
    assert lower(unit_model(DELAY="0.25 ms")).networks["net"].connections[0].delay_steps == 2


# ------------------------------------------------------------------------ refractory (E405)

def test_a_negative_refractory_period_is_refused():
    only_error(unit_model(REFRACTORY="-2 ms"), "E405", "-2 ms", "refractory")
    assert unit_model(REFRACTORY="0 ms").ok


# ---------------------------------------------------------------------------- sizes (E600)

def test_a_size_beyond_2_to_the_53_is_refused():
    only_error(unit_model(SIZE="1e17"), "E600", "1e17", "layer")


def test_a_huge_size_that_fits_is_checked_and_lowered_without_allocating():
    # sizes are refused by the memory estimate when a model is built, not by the checker;
    # checking and lowering must not do anything per neuron
    ir = lower(unit_model(SIZE="1000000000000"))
    assert ir.networks["net"].population("hid").size == 10 ** 12


def test_a_negative_refractory_parameter_is_refused_at_its_value():
    text = source(UNITS, UNIT_DEFAULTS, REFRACTORY="t_ref").replace(
        "param tau = 10 ms", "param tau = 10 ms\n    param t_ref = -1 ms")
    only_error(check_text(text), "E405", "-1 ms", "param t_ref")


def test_a_population_cannot_override_the_refractory_period_to_below_zero():
    text = source(UNITS, UNIT_DEFAULTS, REFRACTORY="t_ref", SIZE="10, t_ref = -3 ms").replace(
        "param tau = 10 ms", "param tau = 10 ms\n    param t_ref = 2 ms")
    only_error(check_text(text), "E405", "-3 ms", "layer")
    assert check_text(text.replace("-3 ms", "3 ms")).ok


# --------------------------------------------------------------------------- traces (E406)

@pytest.mark.parametrize("trace,value", [("tau 0", "0"), ("tau -20", "-20"), ("decay 1.5", "1.5"),
                                         ("decay -0.5", "-0.5")])
def test_a_trace_that_cannot_decay_is_refused(trace, value):
    # `tau 0` was an internal compiler error (sympy's ComplexInfinity in generated code)
    text = source(UNIT_FREE, UNIT_FREE_DEFAULTS).replace(
        "spike when v > 0.5", f"spike when v > 0.5\n    trace r: {trace} on spike += 1")
    only_error(check_text(text), "E406", value, "trace r")


def test_a_synapse_trace_time_constant_held_in_a_parameter_is_checked():
    text = source(UNIT_FREE, UNIT_FREE_DEFAULTS).replace(
        "    state w = 0.6\n", "    param tau_x = -5\n    state w = 0.6\n    trace x: tau tau_x on pre += 1\n")
    only_error(check_text(text), "E406", "-5", "param tau_x")


def test_simulate_whose_step_count_overflows_to_infinity_is_refused():
    # 1e308 s / dt is inf in floats: round(inf) raised OverflowError inside the checker
    only_error(unit_model(DURATION="1e308 s"), "E609", "1e308 s", "simulate")


@pytest.mark.parametrize("call, text", [
    ("bernoulli(2)", "outside [0, 1]"),
    ("bernoulli(-0.5)", "outside [0, 1]"),
    ("poisson(-1)", "cannot be negative"),
    ("normal(0, -1)", "cannot be negative"),
    ("uniform(1, 0)", "lower bound 1 above"),
    ("clip(v, 1, -1)", "lower bound 1 above"),
])
def test_constant_arguments_outside_a_function_domain_are_e407(call, text):
    # these ran: NaN draws on numba/torch, silently clipped values on the reference
    from snnlang.semantics.checker import check_text
    model = f"neuron N:\n    state v = 0\n    v <- v + {call}\n    spike when v > 0.5:\n        v = 0\n\n" \
            "network net:\n    layer a = N(2)\n"
    result = check_text(model)
    assert [d.code for d in result.errors] == ["E407"] and text in result.errors[0].message


@pytest.mark.parametrize("call", ["bernoulli(0.3)", "poisson(2)", "normal(0, 1)", "uniform(0, 1)",
                                  "clip(v, -1, 1)", "bernoulli(v)"])
def test_arguments_inside_the_domain_pass(call):
    from snnlang.semantics.checker import check_text
    model = f"neuron N:\n    state v = 0\n    v <- v + {call}\n    spike when v > 0.5:\n        v = 0\n\n" \
            "network net:\n    layer a = N(2)\n"
    assert not check_text(model).errors
