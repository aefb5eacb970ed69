"""The names one generated kernel uses: constants it loads, RNG keys it derives, and how an
expression is printed in it (binding IR names to locals, arrays or constants)."""

from __future__ import annotations

from typing import Callable

import sympy

from .code import Code, NameTable
from .plan import ParamPlan, Plan, fixed_args
from .printer import Context, print_cond, print_expr


class Scope:
    """One generated kernel of owner `owner`: the constants it reads (relative to the owner's block
    of the constants vector), the RNG keys it derives, its phase flags, and extra scalar arguments
    (e.g. rounding streams, which differ between owners of the same type)."""

    def __init__(self, plan: Plan, owner: str, what: str, reserved: set[str] | None = None) -> None:
        self.plan = plan
        self.owner = owner
        self.block = plan.block(owner)
        self.what = what
        self.names = NameTable(reserved)
        self.loads: dict[int, tuple[str, str]] = {}      # block index -> (local, label)
        self.keys: dict[tuple[object, str], str] = {}    # (stream, step code) -> local
        self.flags: dict[tuple[str, ...], str] = {}      # phases -> local flag
        self.extra: list[tuple[str, str]] = []           # (parameter, actual value) scalars
        self.needs_t = False
        self.pops: list[str] = []

    # ------------------------------------------------------------ constants

    def const(self, code: str, label: str, hint: str) -> str:
        k = self.block.add(code, label)
        if k not in self.loads:
            self.loads[k] = (self.names.get(("const", k), hint), label)
        return self.loads[k][0]

    def param(self, p: ParamPlan, hint: str | None = None, label: str | None = None) -> str:
        return self.const(f"c[{p.slot}]", label or p.name, hint or p.name)

    def dt(self) -> str:
        return self.const("c[0]", "dt", "dt")

    def hoist(self, code: str, label: str) -> str:
        k = self.block.add(code, label)
        return self.const(code, label, f"k{k}")

    def scalar(self, hint: str, actual: str) -> str:
        """An extra scalar argument of the kernel (its value differs between owners)."""
        for name, value in self.extra:
            if value == actual and name.startswith(hint):
                return name
        name = self.names.get(("scalar", hint, actual), hint)
        self.extra.append((name, actual))
        return name

    def key(self, stream: int | str, step: str = "step") -> str:
        if (stream, step) not in self.keys:
            hint = f"key{stream}" if isinstance(stream, int) else f"key_{stream}"
            if step != "step":
                hint += f"_{step}"
            self.keys[(stream, step)] = self.names.fixed(("key", stream, step), "_" + hint)
        return self.keys[(stream, step)]

    def phase_flag(self, phases: tuple[str, ...]) -> str | None:
        """A local that is True while one of `phases` runs (None: no restriction)."""
        if not phases:
            return None
        key = tuple(phases)
        if key not in self.flags:
            self.flags[key] = self.names.get(("phase", key), "in_" + "_".join(phases))
        return self.flags[key]

    def header(self, code: Code, needs_t: bool = False) -> None:
        """Loads of the constants, RNG keys and phase flags this kernel used (call after the body)."""
        dt = self.dt() if (needs_t or self.needs_t) else None
        for k in sorted(self.loads):
            local, label = self.loads[k]
            code.line(f"{local} = consts[{k}]".ljust(40) + f"  # {label}")
        if dt is not None:
            code.line(f"t = step * {dt}")
        for (stream, step), local in sorted(self.keys.items(), key=lambda kv: str(kv[0])):
            code.line(f"{local} = _key(seed, {stream}, {step})")
        for phases, local in self.flags.items():
            ids = [self.plan.phases[p] for p in phases if p in self.plan.phases]
            test = " or ".join(f"phase == {i}" for i in ids) or "False"
            code.line(f"{local} = {test}".ljust(40) + f"  # during {', '.join(phases)}")

    # ------------------------------------------------------------ printing

    def context(self, symbol: Callable[[str], str], constant: Callable[[str], bool],
                host_symbol: Callable[[str], str], rng_index: str | None, key_step: str = "step",
                population=None, what: str | None = None) -> Context:
        return Context(symbol=symbol, constant=constant, host_symbol=host_symbol, hoist=self.hoist,
                       rng_index=rng_index, key=lambda s: self.key(s, key_step), population=population,
                       what=what or self.what)

    def expr(self, expr, ctx: Context) -> str:
        return print_expr(expr, ctx)

    def cond(self, expr, ctx: Context) -> str:
        return print_cond(expr, ctx)


def combine(op: str, old: str, value: str) -> str:
    """`old op= value` as an expression (the reference's statements.combine)."""
    if op == "=":
        return value
    sign = {"+=": "+", "-=": "-", "*=": "*", "/=": "/"}[op]
    return f"{old} {sign} ({value})"


def write(code: Code, scope: Scope, state, local: str, value: str, rindex: str | None, origin=None) -> None:
    """`local = value`, quantised when the variable is fixed point (stochastic rounding draws from
    the variable's rounding stream at this step, element `rindex`)."""
    vtype = state.fixed if state is not None else None
    if vtype is None:
        if value != local:
            code.line(f"{local} = {value}", origin)
        return
    u = "0.0"
    if vtype.rounding == "stochastic":
        stream = scope.scalar(f"rs_{state.var.name}", str(state.stream))
        u = f"_uniform({scope.key(stream)}, {rindex})"
    code.line(f"{local} = _fixed({value}, {fixed_args(vtype)}, {u})", origin)


def free_names(*exprs) -> set[str]:
    out: set[str] = set()
    for e in exprs:
        if e is not None:
            out |= {str(s) for s in sympy.sympify(e).free_symbols}
    return out
