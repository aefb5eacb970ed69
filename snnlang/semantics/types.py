"""Type annotations: scalar types, units and `fixed<...>` fixed-point types."""

from __future__ import annotations

from typing import Callable

from snnlang.diagnostics import Diagnostic, did_you_mean, error
from snnlang.semantics import builtins as B
from snnlang.semantics.expressions import ExprChecker
from snnlang.semantics.symbols import BOOL, FLOAT, INT, Info, ValueType
from snnlang.semantics.units import DIMENSIONLESS, UNITS, Dimension
from snnlang.syntax import ast as A

UnitLookup = Callable[[str], "tuple[float, Dimension] | None"]


def resolve_type(typ: A.FixedType | A.NamedType, diags: list[Diagnostic],
                 unit_lookup: UnitLookup) -> tuple[ValueType, Dimension | None]:
    """The value type and, for a unit annotation, the declared dimension."""
    if isinstance(typ, A.FixedType):
        return _fixed(typ, diags), None
    expr = typ.expr
    if isinstance(expr, A.Name) and len(expr.parts) == 1 and expr.parts[0] in B.SCALAR_TYPES:
        word = expr.parts[0]
        if word == "bool":
            return BOOL, DIMENSIONLESS
        if word == "int":
            return INT, DIMENSIONLESS
        return ValueType("float", precision=word), None
    info = _unit_checker(diags, unit_lookup).infer(expr)
    return FLOAT, (None if info.unknown else info.dim)


def _unit_checker(diags: list[Diagnostic], unit_lookup: UnitLookup) -> ExprChecker:
    def lookup(name: A.Name) -> Info | None:
        ident = name.dotted
        unit = unit_lookup(ident) if len(name.parts) == 1 else None
        if unit is None:
            diags.append(error("E301", f"`{ident}` is neither a type nor a unit", name.span,
                               did_you_mean(ident, list(UNITS) + list(B.SCALAR_TYPES)) or
                               "types: " + ", ".join(B.SCALAR_TYPES) + ", fixed<bits>; or a unit like `mV`"))
            return None
        return Info(unit[1], FLOAT, unit[0])
    return ExprChecker(lookup, B.DYN, diags, "type")


def _const_checker(diags: list[Diagnostic]) -> ExprChecker:
    def lookup(name: A.Name) -> Info | None:
        unit = UNITS.get(name.dotted)
        if unit is not None:
            return Info(unit[1], FLOAT, unit[0])
        diags.append(error("E404", f"`{name.dotted}` is not a constant; type arguments must be numbers",
                           name.span))
        return None
    return ExprChecker(lookup, B.DYN, diags, "type")


def _fixed(typ: A.FixedType, diags: list[Diagnostic]) -> ValueType:
    consts = _const_checker(diags)
    bits_info = consts.infer(typ.bits)
    bits = bits_info.const
    if bits_info.unknown:
        bits = 8
    elif bits is None or bits != int(bits) or not 2 <= bits <= 32:
        diags.append(error("E401", "fixed-point width must be a whole number from 2 to 32",
                           typ.bits.span, "e.g. `fixed<8>`"))
        bits = 8
    options: dict[str, str | float] = {}
    for kw in typ.options:
        if kw.name == "_positional":
            diags.append(error("E401", "`fixed<...>` takes one positional argument (the width); "
                               "name the others", kw.span, "e.g. `fixed<8, scale = 2^-6>`"))
            continue
        if kw.name not in B.FIXED_OPTIONS:
            diags.append(error("E207", f"`fixed` has no option `{kw.name}`", kw.span,
                               did_you_mean(kw.name, B.FIXED_OPTIONS)))
            continue
        if kw.name in options:
            diags.append(error("E201", f"option `{kw.name}` is given twice", kw.span))
            continue
        allowed = B.FIXED_OPTIONS[kw.name]
        if allowed is None:  # scale
            info = consts.infer(kw.value)
            if not info.unknown and (info.const is None or info.const <= 0):
                diags.append(error("E401", "`scale` must be a positive constant", kw.value.span))
            else:
                options[kw.name] = info.const if info.const is not None else 1.0
            continue
        word = kw.value.dotted if isinstance(kw.value, A.Name) else (
            ("true" if kw.value.value else "false") if isinstance(kw.value, A.Boolean) else None)
        if word not in allowed:
            diags.append(error("E215", f"`{kw.name}` must be one of {', '.join(sorted(allowed))}",
                               kw.value.span, did_you_mean(str(word), allowed) if word else ""))
            continue
        options[kw.name] = word
    return ValueType("fixed", bits=int(bits), scale=float(options.get("scale", 1.0)),
                     rounding=str(options.get("round", "nearest")),
                     overflow=str(options.get("overflow", "saturate")),
                     signed=options.get("signed", "true") == "true")


__all__ = ["resolve_type", "FLOAT"]
