"""Physical dimensions and the unit table.

A `Dimension` is a vector of rational exponents over the SI base quantities.
Quantities are converted to SI at compile time (`20 ms` -> 0.02 with
dimension time), so generated code never carries units.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

BASE = ("m", "kg", "s", "A", "K", "mol", "cd")


@dataclass(frozen=True)
class Dimension:
    exps: tuple[Fraction, ...] = (Fraction(0),) * len(BASE)

    @staticmethod
    def of(**powers: int | Fraction) -> "Dimension":
        return Dimension(tuple(Fraction(powers.get(b, 0)) for b in BASE))

    def __mul__(self, other: "Dimension") -> "Dimension":
        return Dimension(tuple(a + b for a, b in zip(self.exps, other.exps)))

    def __truediv__(self, other: "Dimension") -> "Dimension":
        return Dimension(tuple(a - b for a, b in zip(self.exps, other.exps)))

    def __pow__(self, k: Fraction | int | float) -> "Dimension":
        k = Fraction(k).limit_denominator(1000)
        return Dimension(tuple(a * k for a in self.exps))

    @property
    def is_dimensionless(self) -> bool:
        return all(e == 0 for e in self.exps)

    def __str__(self) -> str:
        return describe(self)


DIMENSIONLESS = Dimension()
TIME = Dimension.of(s=1)
CURRENT = Dimension.of(A=1)
LENGTH = Dimension.of(m=1)
VOLTAGE = Dimension.of(kg=1, m=2, s=-3, A=-1)
RESISTANCE = VOLTAGE / CURRENT
CONDUCTANCE = CURRENT / VOLTAGE
CHARGE = CURRENT * TIME
CAPACITANCE = CHARGE / VOLTAGE
FREQUENCY = DIMENSIONLESS / TIME
AMOUNT = Dimension.of(mol=1)
CONCENTRATION = AMOUNT / LENGTH ** 3
ENERGY = Dimension.of(kg=1, m=2, s=-2)
POWER = ENERGY / TIME

_PREFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}

# base symbol -> (scale of the unprefixed unit in SI, dimension, allowed prefixes)
_BASE_UNITS: dict[str, tuple[float, Dimension, str]] = {
    "s": (1.0, TIME, "mun"),
    "Hz": (1.0, FREQUENCY, "kM"),
    "V": (1.0, VOLTAGE, "mu"),
    "A": (1.0, CURRENT, "munpf"),
    "Ohm": (1.0, RESISTANCE, "kMG"),
    "S": (1.0, CONDUCTANCE, "munp"),
    "F": (1.0, CAPACITANCE, "munpf"),
    "C": (1.0, CHARGE, "munp"),
    "m": (1.0, LENGTH, "cmun"),
    "mol": (1.0, AMOUNT, "mun"),
    "M": (1e3, CONCENTRATION, "mun"),  # molar = mol/l = 1000 mol/m^3
    "J": (1.0, ENERGY, "mun"),
    "W": (1.0, POWER, "mun"),
}
_PREFIX["c"] = 1e-2


def _build_table() -> dict[str, tuple[float, Dimension]]:
    table: dict[str, tuple[float, Dimension]] = {}
    for base, (scale, dim, prefixes) in _BASE_UNITS.items():
        table[base] = (scale, dim)
        for p in prefixes:
            table[p + base] = (scale * _PREFIX[p], dim)
    table["min"] = (60.0, TIME)
    return table


UNITS: dict[str, tuple[float, Dimension]] = _build_table()

# names used when printing a dimension, most specific first
_NAMED_DIMS = [
    (VOLTAGE, "voltage (V)"), (CURRENT, "current (A)"), (TIME, "time (s)"),
    (FREQUENCY, "frequency (Hz)"), (RESISTANCE, "resistance (Ohm)"),
    (CONDUCTANCE, "conductance (S)"), (CAPACITANCE, "capacitance (F)"), (CHARGE, "charge (C)"),
    (LENGTH, "length (m)"), (CONCENTRATION, "concentration (M)"), (AMOUNT, "amount (mol)"),
    (VOLTAGE / TIME, "voltage per time (V/s)"), (CURRENT / TIME, "current per time (A/s)"),
    (ENERGY, "energy (J)"), (POWER, "power (W)"),
]


def describe(dim: Dimension) -> str:
    """Human words for a dimension, e.g. "voltage (V)" or "m^2 kg s^-3"."""
    if dim.is_dimensionless:
        return "dimensionless"
    for known, text in _NAMED_DIMS:
        if known == dim:
            return text
    # a named dimension times a power of time reads better than SI base units:
    # "voltage per time^2 (V/s^2)" rather than "m^2 kg s^-5 A^-1"
    for k in (1, -1, 2, -2, 3, -3):
        base = dim / TIME ** k
        for known, text in _NAMED_DIMS:
            if known == base and known not in (TIME, FREQUENCY) and " per " not in text:
                name, symbol = text[:-1].split(" (")
                words = f"{name} {'times' if k > 0 else 'per'} time{'' if abs(k) == 1 else f'^{abs(k)}'}"
                unit = f"{symbol}{'*' if k > 0 else '/'}s{'' if abs(k) == 1 else f'^{abs(k)}'}"
                return f"{words} ({unit})"
    parts = []
    for base, e in zip(BASE, dim.exps):
        if e == 0:
            continue
        parts.append(base if e == 1 else f"{base}^{e}")
    return " ".join(parts)


def lookup(name: str) -> tuple[float, Dimension] | None:
    return UNITS.get(name)


def conversion_hint(have: Dimension, want: Dimension) -> str:
    """Suggest the missing factor when two dimensions differ, e.g. a resistance."""
    ratio = want / have
    if ratio.is_dimensionless:
        return ""
    for known, text in _NAMED_DIMS:
        if known == ratio:
            return f"multiply by a {text.split(' (')[0]}"
        if known == DIMENSIONLESS / ratio:
            return f"divide by a {text.split(' (')[0]}"
    return f"the missing factor has dimension {describe(ratio)}"
