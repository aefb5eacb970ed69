"""Dimensions, the unit table, `describe` and conversion hints."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnlang.semantics import units as U
from snnlang.semantics.units import (
    BASE, CAPACITANCE, CHARGE, CONDUCTANCE, CURRENT, DIMENSIONLESS, FREQUENCY, LENGTH, RESISTANCE,
    TIME, UNITS, VOLTAGE, Dimension, conversion_hint, describe, lookup,
)

# ------------------------------------------------------------------ algebra

dims = st.builds(
    lambda exps: Dimension(tuple(Fraction(e) for e in exps)),
    st.tuples(*[st.integers(-4, 4) for _ in BASE]),
)


def test_dimension_of_and_defaults():
    assert Dimension() == DIMENSIONLESS and DIMENSIONLESS.is_dimensionless
    assert Dimension.of(s=1) == TIME and not TIME.is_dimensionless
    assert Dimension.of(kg=1, m=2, s=-3, A=-1) == VOLTAGE
    assert all(isinstance(e, Fraction) for e in Dimension.of(m=1).exps)
    assert len(Dimension.of().exps) == len(BASE) == 7


def test_derived_dimensions_relate_physically():
    assert RESISTANCE * CURRENT == VOLTAGE            # Ohm's law
    assert CONDUCTANCE * VOLTAGE == CURRENT
    assert RESISTANCE * CAPACITANCE == TIME           # the membrane time constant RC
    assert CHARGE / TIME == CURRENT
    assert FREQUENCY * TIME == DIMENSIONLESS
    assert CONDUCTANCE == DIMENSIONLESS / RESISTANCE


@settings(max_examples=200)
@given(a=dims, b=dims, c=dims)
def test_dimensions_form_an_abelian_group(a, b, c):
    assert a * b == b * a
    assert (a * b) * c == a * (b * c)
    assert a * DIMENSIONLESS == a
    assert (a / b) * b == a
    assert (a / a).is_dimensionless
    assert a ** 2 == a * a
    assert a ** 0 == DIMENSIONLESS
    assert (a * b) ** 3 == a ** 3 * b ** 3


def test_fractional_powers():
    root = VOLTAGE ** 0.5
    assert root * root == VOLTAGE
    assert (TIME ** Fraction(1, 3)) ** 3 == TIME
    assert LENGTH ** -1 == DIMENSIONLESS / LENGTH
    assert (LENGTH ** (1 / 3)).exps[0] == Fraction(1, 3)  # floats become exact small fractions


def test_dimensions_are_hashable_values():
    assert {VOLTAGE, Dimension.of(kg=1, m=2, s=-3, A=-1)} == {VOLTAGE}
    with pytest.raises(Exception):
        VOLTAGE.exps = ()  # frozen


# ----------------------------------------------------------------- unit table


@pytest.mark.parametrize("name, scale, dim", [
    ("s", 1.0, TIME), ("ms", 1e-3, TIME), ("us", 1e-6, TIME), ("ns", 1e-9, TIME), ("min", 60.0, TIME),
    ("V", 1.0, VOLTAGE), ("mV", 1e-3, VOLTAGE), ("uV", 1e-6, VOLTAGE),
    ("A", 1.0, CURRENT), ("nA", 1e-9, CURRENT), ("pA", 1e-12, CURRENT), ("fA", 1e-15, CURRENT),
    ("Hz", 1.0, FREQUENCY), ("kHz", 1e3, FREQUENCY), ("MHz", 1e6, FREQUENCY),
    ("Ohm", 1.0, RESISTANCE), ("MOhm", 1e6, RESISTANCE), ("GOhm", 1e9, RESISTANCE),
    ("S", 1.0, CONDUCTANCE), ("nS", 1e-9, CONDUCTANCE), ("uS", 1e-6, CONDUCTANCE),
    ("F", 1.0, CAPACITANCE), ("pF", 1e-12, CAPACITANCE), ("uF", 1e-6, CAPACITANCE),
    ("C", 1.0, CHARGE), ("m", 1.0, LENGTH), ("mm", 1e-3, LENGTH), ("cm", 1e-2, LENGTH), ("um", 1e-6, LENGTH),
    ("mol", 1.0, U.AMOUNT), ("M", 1e3, U.CONCENTRATION), ("mM", 1.0, U.CONCENTRATION),
    ("J", 1.0, U.ENERGY), ("W", 1.0, U.POWER),
])
def test_unit_table(name, scale, dim):
    got = lookup(name)
    assert got is not None, name
    assert math.isclose(got[0], scale, rel_tol=1e-12) and got[1] == dim
    assert UNITS[name] == got


@pytest.mark.parametrize("name", ["msec", "sec", "mv", "MV", "ks", "kmV", "Volt", "ohm", "hz", "", "mmol/l"])
def test_not_units(name):
    assert lookup(name) is None


def test_prefixes_scale_the_base_unit():
    for name, (scale, dim) in UNITS.items():
        for base, (bscale, bdim, prefixes) in U._BASE_UNITS.items():
            if name == base:
                assert (scale, dim) == (bscale, bdim)
            elif name[1:] == base and name[0] in prefixes:
                assert dim == bdim and math.isclose(scale, bscale * U._PREFIX[name[0]])


# ------------------------------------------------------------------ describe


@pytest.mark.parametrize("dim, text", [
    (DIMENSIONLESS, "dimensionless"),
    (VOLTAGE, "voltage (V)"), (CURRENT, "current (A)"), (TIME, "time (s)"),
    (FREQUENCY, "frequency (Hz)"), (RESISTANCE, "resistance (Ohm)"), (CONDUCTANCE, "conductance (S)"),
    (CAPACITANCE, "capacitance (F)"), (CHARGE, "charge (C)"), (LENGTH, "length (m)"),
    (VOLTAGE / TIME, "voltage per time (V/s)"), (CURRENT / TIME, "current per time (A/s)"),
    (U.CONCENTRATION, "concentration (M)"),
])
def test_describe_named(dim, text):
    assert describe(dim) == text
    assert str(dim) == text


def test_describe_unnamed_lists_base_exponents():
    assert describe(Dimension.of(m=1, kg=1)) == "m kg"
    assert describe(TIME ** 2) == "s^2"
    assert describe(LENGTH ** 0.5) == "m^1/2"
    assert describe(Dimension.of(m=3, kg=2)) == "m^3 kg^2"


def test_describe_a_named_dimension_times_a_power_of_time():
    assert describe(VOLTAGE * TIME) == "voltage times time (V*s)"
    assert describe(VOLTAGE / TIME ** 2) == "voltage per time^2 (V/s^2)"


# ---------------------------------------------------------------- conversion hints


def test_conversion_hints_name_the_missing_factor():
    assert conversion_hint(VOLTAGE, VOLTAGE / TIME) == "divide by a time"
    assert conversion_hint(VOLTAGE / TIME, VOLTAGE) == "multiply by a time"
    assert conversion_hint(CURRENT, VOLTAGE) == "multiply by a resistance"
    assert conversion_hint(CURRENT, VOLTAGE / TIME) == "divide by a capacitance"
    assert conversion_hint(DIMENSIONLESS, TIME) == "multiply by a time"
    assert conversion_hint(TIME, DIMENSIONLESS) == "divide by a time"


def test_no_hint_when_dimensions_agree():
    assert conversion_hint(VOLTAGE, VOLTAGE) == ""
    assert conversion_hint(DIMENSIONLESS, DIMENSIONLESS) == ""


def test_unnamed_missing_factor_is_described():
    hint = conversion_hint(TIME, Dimension.of(m=3))
    assert hint == "the missing factor has dimension m^3 s^-1"


@settings(max_examples=200)
@given(have=dims, want=dims)
def test_a_hint_exists_exactly_when_dimensions_differ(have, want):
    hint = conversion_hint(have, want)
    assert (hint == "") == (have == want)
