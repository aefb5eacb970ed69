"""Checks of neuron and synapse definitions: scopes, dimensions, types, write rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterator

from snnlang.diagnostics import Diagnostic, Span, did_you_mean, error
from snnlang.semantics import builtins as B
from snnlang.semantics.expressions import ExprChecker, show
from snnlang.semantics.symbols import (
    BOOL, FLOAT, INT, UNKNOWN, Info, NeuronScope, PeerBinding, Symbol, SynapseScope, ValueType,
)
from snnlang.semantics.types import resolve_type
from snnlang.semantics.units import DIMENSIONLESS, TIME, UNITS, Dimension, describe
from snnlang.syntax import ast as A

RESERVED = set(B.IMPLICIT_NAMES) | {"pre", "post"}
# definitions resolved through one another recursively (only a cycle recurses: acyclic chains
# are resolved in dependency order); documented with E105 in docs/language.md §21.1
MAX_DEFINITION_DEPTH = 50


@dataclass
class PhaseRef:
    """A phase named by `during` or `at ... of` inside a definition."""

    phase: str
    span: Span


@dataclass
class CheckedDefinition:
    node: A.NeuronDef | A.SynapseDef
    scope: NeuronScope | SynapseScope
    phase_refs: list[PhaseRef] = field(default_factory=list)


def _walk_members(members, compartment=None, phases=()) -> Iterator[tuple[object, str | None, tuple]]:
    """Every member with the compartment and `during` phases it sits in."""
    for m in members:
        if isinstance(m, A.Compartment):
            yield from _walk_members(m.members, m.name, phases)
        elif isinstance(m, A.During):
            yield from _walk_members(m.members, compartment, phases + m.phases)
        else:
            yield m, compartment, phases


def _uses_units(node) -> bool:
    """Whether a definition mentions any physical unit (else it is unit-free)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, A.Quantity):
            return True
        if isinstance(n, A.NamedType):
            if not (isinstance(n.expr, A.Name) and n.expr.dotted in B.SCALAR_TYPES):
                return True
            continue
        if isinstance(n, tuple):
            stack.extend(n)
        elif hasattr(n, "__dataclass_fields__"):
            stack.extend(getattr(n, f) for f in n.__dataclass_fields__ if f not in ("span",))
    return False


def _own_synapse_values(node: A.SynapseDef) -> set[str]:
    """Names of a synapse's per-connection values (states and traces; params are scalars)."""
    out, stack = set(), list(node.members)
    while stack:
        m = stack.pop()
        if isinstance(m, A.During):
            stack.extend(m.members)
        elif isinstance(m, (A.StateDecl, A.TraceDecl)):
            out.add(m.name)
    return out


def synapse_trace_side(decl: A.TraceDecl, own_values: set[str]) -> str:
    """Where a synapse trace lives: "pre" (one per presynaptic neuron), "post", or "syn" (one
    per connection). An `on pre`/`on post` clause decides; without one, a `sum`/`mean` trace
    whose argument reads only one side (`trace a: mean pre.spike`) lives on that side, since
    every connection of that neuron would hold the same value."""
    for on in decl.on:
        if on.event.parts[0] in ("pre", "post"):
            return on.event.parts[0]
    if decl.kind not in ("sum", "mean") or decl.arg is None:
        return "syn"
    sides = set()
    for name in [n for e in (decl.arg, *(on.value for on in decl.on)) for n in _names_in(e)]:
        head = name.parts[0]
        if head in ("pre", "post"):
            sides.add(head)
        elif head in own_values:
            return "syn"
    return sides.pop() if len(sides) == 1 else "syn"


class _DefinitionChecker:
    """What neuron and synapse checks share: symbol tables and lazy dimensions."""

    where = "neuron"

    def __init__(self, node, diags: list[Diagnostic]) -> None:
        self.node = node
        self.diags = diags
        self.symbols: dict[str, Symbol] = {}
        self.unit_free = not _uses_units(node)
        self.time_dim = DIMENSIONLESS if self.unit_free else TIME
        self._resolving: set[str] = set()
        self.phase_refs: list[PhaseRef] = []

    # ------------------------------------------------------------ declarations
    def declare(self, sym: Symbol) -> None:
        if sym.name in RESERVED:
            self.diags.append(error("E208", f"`{sym.name}` is a built-in name and cannot be declared",
                                    sym.span, "choose another name"))
            return
        prior = self.symbols.get(sym.name)
        if prior is not None:
            where = f" (first at line {prior.span.line})" if prior.span else ""
            self.diags.append(error("E201", f"`{sym.name}` is already defined in "
                                    f"{self.where} `{self.node.name}`{where}", sym.span,
                                    "names are unique in a definition, across its compartments"))
            return
        self.symbols[sym.name] = sym

    def dim_of(self, sym: Symbol) -> Dimension:
        """The dimension of a symbol, inferring param/state values on first use."""
        if sym.dim is not None:
            return sym.dim
        if sym.name in self._resolving:
            self.diags.append(error("E404", f"`{sym.name}` is defined in terms of itself", sym.span))
            sym.dim = DIMENSIONLESS
            return sym.dim
        if not self._resolving:
            self._resolve_dependencies_first(sym)
        elif len(self._resolving) >= MAX_DEFINITION_DEPTH:  # a long cycle: each link is recursion
            self.diags.append(error("E105", f"`{sym.name}` is defined through a chain of more than "
                                    f"{MAX_DEFINITION_DEPTH} definitions that refer to one another",
                                    sym.span, "give some of them values of their own"))
            sym.dim, sym.dim_unknown = DIMENSIONLESS, True
            return sym.dim
        self._resolving.add(sym.name)
        sym.dim_unknown = False
        try:
            sym.dim = self._infer_dim(sym)
        finally:
            self._resolving.discard(sym.name)
        return sym.dim

    def _resolve_dependencies_first(self, root: Symbol) -> None:
        """Resolve the values `root` depends on before it, deepest first and without recursion,
        so that a long chain `p0 = p1 + 1`, `p1 = p2 + 1`... never recurses deeper than one
        link. A cycle is left to the recursive path, which reports it (E404)."""
        def deps(sym: Symbol) -> Iterator[Symbol]:
            if isinstance(sym.decl, (A.ParamDecl, A.StateDecl)):
                for n in _names_in(sym.decl.value):
                    dep = self.symbols.get(n.parts[0]) or (
                        self.symbols.get(n.parts[1]) if len(n.parts) == 2 else None)
                    if dep is not None and dep.dim is None:
                        yield dep
        state = {root.name: 1}
        order: list[Symbol] = []
        stack = [(root, deps(root))]
        while stack:
            sym, pending = stack[-1]
            dep = next(pending, None)
            if dep is None:
                stack.pop()
                state[sym.name] = 2
                order.append(sym)
            elif state.get(dep.name) == 1:
                return
            elif dep.name not in state:
                state[dep.name] = 1
                stack.append((dep, deps(dep)))
        for sym in order[:-1]:
            self.dim_of(sym)

    def _infer_dim(self, sym: Symbol) -> Dimension:
        decl = sym.decl
        if isinstance(decl, (A.ParamDecl, A.StateDecl)):
            declared = self._declared(decl.type, sym)
            value = self.checker_for(sym.compartment).infer(decl.value)
            if declared is not None:
                if not value.unknown and value.dim != declared and not (
                        value.const == 0 and value.dim.is_dimensionless):
                    self.diags.append(error(
                        "E300", f"`{sym.name}` is declared in {describe(declared)} but its value is "
                        f"{describe(value.dim)}", decl.value.span))
                return declared
            if sym.type.kind == "float" and value.is_bool and isinstance(decl, A.StateDecl):
                sym.type = BOOL
            sym.dim_unknown = sym.dim_unknown or value.unknown  # silences follow-on errors
            return value.dim
        if isinstance(decl, A.InputDecl):
            declared = self._declared(decl.type, sym)
            return declared if declared is not None else DIMENSIONLESS
        if isinstance(decl, A.TraceDecl):
            return self._trace_dim(decl, sym)
        return DIMENSIONLESS

    def _declared(self, typ, sym: Symbol) -> Dimension | None:
        if typ is None:
            return None
        before = len(self.diags)
        vtype, dim = resolve_type(typ, self.diags, self.unit_lookup)
        sym.type = vtype
        if dim is None and isinstance(typ, A.NamedType) and len(self.diags) > before:
            sym.dim_unknown = True  # an unknown unit (reported): its dimension is not known
        return dim

    def unit_lookup(self, name: str) -> tuple[float, Dimension] | None:
        return UNITS.get(name)

    def _trace_dim(self, decl: A.TraceDecl, sym: Symbol) -> Dimension:
        chk = self.checker_for(sym.compartment)
        if decl.type is not None:
            vtype, _ = resolve_type(decl.type, self.diags, self.unit_lookup)
            sym.type = vtype
        if decl.kind in ("sum", "mean") and decl.arg is not None:
            info = chk.infer(decl.arg)
            sym.dim_unknown = info.unknown
            return info.dim
        for on in decl.on:
            info = chk.infer(on.value)
            if not info.unknown:
                return info.dim
        return DIMENSIONLESS

    # ---------------------------------------------------------------- shared
    def checker_for(self, compartment: str | None) -> ExprChecker:
        raise NotImplementedError

    def info(self, sym: Symbol) -> Info:
        dim = self.dim_of(sym)
        return Info(dim, sym.type, unknown=sym.dim_unknown)

    def constant_value(self, expr: A.Expr, comp: str | None, info: Info, chk: ExprChecker
                       ) -> tuple[float | None, Span, str | None]:
        """(value, where it is written, the parameter holding it) of a constant, or of a bare
        parameter name by the parameter's default; value None when neither is constant."""
        if info.const is not None or not (isinstance(expr, A.Name) and len(expr.parts) == 1):
            return info.const, expr.span, None
        name = expr.parts[0]
        sym = self.scope.visible(name, comp) if isinstance(self.scope, NeuronScope) else self.symbols.get(name)
        if sym is None or sym.kind != "param" or not isinstance(sym.decl, A.ParamDecl):
            return None, expr.span, None
        # the parameter's value was checked, and its mistakes reported, with its declaration
        seen = len(self.diags)
        value = chk.infer(sym.decl.value).const
        del self.diags[seen:]
        return value, sym.decl.value.span, name

    def check_trace(self, decl: A.TraceDecl, compartment: str | None) -> None:
        chk = self.checker_for(compartment)
        sym = self.symbols.get(decl.name)
        if sym is None or sym.decl is not decl:
            return
        dim = self.dim_of(sym)
        if decl.kind == "tau":
            info = chk.infer(decl.arg)
            chk.expect_dim(info, self.time_dim, decl.arg.span, "a trace's time constant", "E305")
            value, span, param = self.constant_value(decl.arg, compartment, info, chk) \
                if not info.unknown and info.dim == self.time_dim else (None, None, None)
            if value is not None and value <= 0:
                unit = "" if self.time_dim.is_dimensionless else " s"
                self.diags.append(error("E406", f"trace `{decl.name}`'s time constant"
                                        f"{f' `{param}`' if param else ''} must be positive, not "
                                        f"{value:g}{unit}", span,
                                        "a trace without decay is `trace NAME: sum on EVENT += 1`"))
        elif decl.kind == "decay":
            info = chk.infer(decl.arg)
            chk.expect_dim(info, DIMENSIONLESS, decl.arg.span, "a trace's per-step decay factor", "E302")
            value, span, param = self.constant_value(decl.arg, compartment, info, chk) \
                if not info.unknown and info.dim.is_dimensionless else (None, None, None)
            if value is not None and not 0 <= value <= 1:
                self.diags.append(error("E406", f"trace `{decl.name}`'s decay factor"
                                        f"{f' `{param}`' if param else ''} must be in [0, 1], not "
                                        f"{value:g}", span, "the trace is multiplied by it every step: "
                                        "above 1 it grows without bound"))
        elif decl.kind == "mean" or (decl.kind == "sum" and decl.arg is not None):
            chk.infer(decl.arg)
        elif decl.kind == "sum" and not decl.on:
            self.diags.append(error("E504", f"trace `{decl.name}` never changes", decl.span,
                                    "give `sum` an argument, or an `on EVENT += value` clause"))
        for on in decl.on:
            self.check_trace_event(on, sym)
            value = chk.infer(on.value)
            if on.op in ("*=", "/="):
                chk.expect_dim(value, DIMENSIONLESS, on.value.span, f"the factor in `{on.op}`")
            elif not value.unknown and value.dim != dim:
                self.diags.append(error("E300", f"trace `{decl.name}` is {describe(dim)} but this event "
                                        f"adds {describe(value.dim)}", on.value.span))

    def check_trace_event(self, on: A.TraceOn, sym: Symbol) -> None:
        raise NotImplementedError

    def check_stmts(self, stmts, compartment: str | None) -> None:
        for s in stmts:
            if isinstance(s, A.If):
                chk = self.checker_for(compartment)
                chk.expect_bool(chk.infer(s.cond), s.cond.span, "an `if` condition")
                self.check_stmts(s.body, compartment)
                for cond, body in s.elifs:
                    chk.expect_bool(chk.infer(cond), cond.span, "an `elif` condition")
                    self.check_stmts(body, compartment)
                self.check_stmts(s.orelse, compartment)
            else:
                self.check_assign(s, compartment)

    def check_assign(self, s: A.Assign, compartment: str | None) -> None:
        raise NotImplementedError

    def check_value_against(self, target: Info, value: Info, s: A.Assign, chk: ExprChecker) -> None:
        if s.op in ("*=", "/="):
            chk.expect_dim(value, DIMENSIONLESS, s.value.span, f"the factor in `{s.op}`")
            return
        if target.unknown or value.unknown:
            return
        if target.dim != value.dim and not (value.const == 0 and value.dim.is_dimensionless):
            chk.expect_same(target, value, s.span, f"`{s.target.dotted}` is assigned a different "
                            "dimension")

    def read_only_message(self, sym: Symbol) -> tuple[str, str]:
        reasons = {
            "param": ("a parameter is read-only inside the model",
                      "declare it as `state` if it changes, or set it from Python at runtime"),
            "input": ("an input port is written only by synapses",
                      "deliver to it from a synapse: `post.PORT += w`"),
            "event": ("an event flag is set by its `when` condition", ""),
            "implicit": ("a built-in name is read-only", ""),
        }
        return reasons.get(sym.kind, ("this name cannot be assigned", ""))


# ===================================================================== neurons


class NeuronChecker(_DefinitionChecker):
    where = "neuron"

    def __init__(self, node: A.NeuronDef, diags: list[Diagnostic]) -> None:
        super().__init__(node, diags)
        self.scope = NeuronScope(node.name, self.symbols, {}, self.time_dim, self.unit_free)
        self._checkers: dict[str | None, ExprChecker] = {}

    def run(self) -> CheckedDefinition:
        self._collect()
        for sym in list(self.symbols.values()):
            self.dim_of(sym)
        defined_by: dict[str, str] = {}
        for member, comp, phases in _walk_members(self.node.members):
            self._check_member(member, comp, defined_by)
        surrogates = []
        for member, comp, phases in _walk_members(self.node.members):
            if isinstance(member, A.RefractoryDecl):
                self._check_holds(member, defined_by)
            elif isinstance(member, A.SurrogateDecl):
                surrogates.append((member, comp))
        for k, (member, comp) in enumerate(surrogates):
            if k:
                self.diags.append(error("E201", "a neuron declares one surrogate", member.span))
            else:
                self._check_surrogate(member, comp)
        return CheckedDefinition(self.node, self.scope, self.phase_refs)

    def _check_surrogate(self, m: A.SurrogateDecl, comp: str | None) -> None:
        """`surrogate KIND(width = W)`: a known kind, and a width of the dimension of the
        compared values of `spike when a > b` (the surrogate is a function of a - b)."""
        call = m.call
        if call.func not in B.SURROGATES:
            self.diags.append(error("E205", f"unknown surrogate `{call.func}`", call.func_span,
                                    did_you_mean(call.func, B.SURROGATES) or "one of " + ", ".join(B.SURROGATES)))
            return
        spike = next((e for e, _c, _p in _walk_members(self.node.members)
                      if isinstance(e, A.EventDecl) and e.is_spike), None)
        if spike is None or not isinstance(spike.cond, A.Compare) or spike.cond.op not in (">", ">=", "<", "<="):
            self.diags.append(error("E213", "a surrogate needs a spike condition that compares two values, "
                                    "e.g. `spike when v > theta`", m.span))
            return
        width = call.kwarg("width")
        extra = [a for a in call.args] + [k for k in call.kwargs if k.name != "width"]
        if width is None and call.args:
            width, extra = call.args[0], extra[1:]
        for e in extra:
            self.diags.append(error("E206", f"`{call.func}` takes one argument, its width", e.span,
                                    f"e.g. `surrogate {call.func}(width = 0.5)`"))
        if width is None:
            self.diags.append(error("E206", f"`{call.func}` needs its width", call.span,
                                    f"e.g. `surrogate {call.func}(width = 0.5)`"))
            return
        chk = self.checker_for(comp)
        want = chk.infer(spike.cond.left)
        got = chk.infer(width)
        if not (want.unknown or got.unknown) and want.dim != got.dim:
            self.diags.append(error("E300", f"the surrogate's width is {describe(got.dim)} but the spike "
                                    f"condition compares {describe(want.dim)}", width.span))

    def _check_holds(self, m: A.RefractoryDecl, defined_by: dict[str, str]) -> None:
        for name, span in zip(m.holds, m.hold_spans):
            if name in defined_by:
                continue
            if name in self.symbols:
                self.diags.append(error("E306", f"`{name}` has no ODE or update for the refractory "
                                        "period to hold", span,
                                        "list variables defined by `dx/dt = ...` or `x <- ...`"))
            else:
                self.diags.append(error("E200", f"unknown name `{name}`", span,
                                        did_you_mean(name, list(defined_by))))

    def _collect(self) -> None:
        for m in self.node.members:
            if isinstance(m, A.Compartment):
                if m.name in self.scope.compartments:
                    self.diags.append(error("E201", f"compartment `{m.name}` is defined twice", m.name_span))
                self.scope.compartments[m.name] = m.name_span
        self._collect_phase_refs(self.node.members)
        for member, comp, phases in _walk_members(self.node.members):
            sym = None
            if isinstance(member, A.ParamDecl):
                sym = Symbol(member.name, "param", member.name_span, comp, member)
            elif isinstance(member, A.StateDecl):
                sym = Symbol(member.name, "state", member.name_span, comp, member)
            elif isinstance(member, A.InputDecl):
                sym = Symbol(member.name, "input", member.name_span, comp, member)
            elif isinstance(member, A.TraceDecl):
                sym = Symbol(member.name, "trace", member.name_span, comp, member)
            elif isinstance(member, A.EventDecl):
                sym = Symbol(member.name, "event", member.name_span, comp, member, BOOL, DIMENSIONLESS)
            if sym is not None:
                sym.phases = phases
                if sym.name in self.scope.compartments:
                    self.diags.append(error("E201", f"`{sym.name}` is also the name of a compartment",
                                            sym.span))
                    continue
                self.declare(sym)

    def _collect_phase_refs(self, members) -> None:
        for m in members:
            if isinstance(m, A.During):
                self.phase_refs.extend(PhaseRef(p, s) for p, s in zip(m.phases, m.phase_spans))
                self._collect_phase_refs(m.members)
            elif isinstance(m, A.Compartment):
                self._collect_phase_refs(m.members)
            elif isinstance(m, A.PhaseHook):
                self.phase_refs.append(PhaseRef(m.phase, m.phase_span))

    def checker_for(self, compartment: str | None) -> ExprChecker:
        chk = self._checkers.get(compartment)
        if chk is None:
            chk = ExprChecker(lambda name: self.lookup(name, compartment), B.DYN, self.diags, "neuron")
            self._checkers[compartment] = chk
        return chk

    # ---------------------------------------------------------------- lookup
    def lookup(self, name: A.Name, compartment: str | None) -> Info | None:
        parts = name.parts
        if parts[0] in ("pre", "post"):
            self.diags.append(error("E210", f"`{name.dotted}`: `{parts[0]}` exists only in a synapse",
                                    name.span, "a neuron reads its synaptic input through an `input` port"))
            return None
        if len(parts) == 1:
            return self._lookup_simple(parts[0], name.span, compartment)
        if len(parts) == 2 and parts[0] in self.scope.compartments:
            sym = self.scope.member(parts[0], parts[1])
            if sym is None:
                members = [s.name for s in self.symbols.values() if s.compartment == parts[0]]
                self.diags.append(error("E200", f"compartment `{parts[0]}` has no member `{parts[1]}`",
                                        name.span, did_you_mean(parts[1], members)))
                return None
            return self.info(sym)
        if parts[0] in self.symbols:
            self.diags.append(error("E200", f"`{parts[0]}` is a variable, not a compartment: "
                                    f"`{name.dotted}` means nothing", name.span))
            return None
        self.diags.append(error("E203", f"unknown compartment `{parts[0]}`", name.span,
                                did_you_mean(parts[0], self.scope.compartments)))
        return None

    def _lookup_simple(self, ident: str, span: Span, compartment: str | None) -> Info | None:
        sym = self.scope.visible(ident, compartment)
        if sym is not None:
            return self.info(sym)
        if ident in B.IMPLICIT_NAMES:
            return Info(self.time_dim, FLOAT)
        other = self.symbols.get(ident)
        if other is not None:
            self.diags.append(error("E200", f"`{ident}` belongs to compartment `{other.compartment}`",
                                    span, f"write `{other.compartment}.{ident}`"))
            return None
        unit = UNITS.get(ident)
        if unit is not None:
            return Info(unit[1], FLOAT, unit[0])
        # lazy: past the check's hint budget the scope is not even listed (thousands of
        # unknown names in a scope of thousands would be quadratic)
        visible = (s.name for s in self.symbols.values()
                   if s.compartment is None or s.compartment == compartment)
        self.diags.append(error("E200", f"unknown name `{ident}`", span,
                                did_you_mean(ident, itertools.chain(visible, B.IMPLICIT_NAMES))))
        return None

    # ---------------------------------------------------------------- members
    def _check_member(self, m, comp: str | None, defined_by: dict[str, str]) -> None:
        chk = self.checker_for(comp)
        if isinstance(m, A.ParamDecl):
            self._check_param_constant(m, comp)
        elif isinstance(m, A.OdeDecl):
            self._check_ode(m, comp, chk, defined_by)
        elif isinstance(m, A.UpdateDecl):
            self._check_update(m, comp, chk, defined_by)
        elif isinstance(m, A.EventDecl):
            chk.expect_bool(chk.infer(m.cond), m.cond.span, f"the condition of `{m.name}`")
            self.check_stmts(m.body, comp)
        elif isinstance(m, A.RefractoryDecl):
            info = chk.infer(m.period)
            chk.expect_dim(info, self.time_dim, m.period.span, "a refractory period", "E305")
            if not info.unknown and info.dim == self.time_dim:
                self._refractory_sign(m, comp, info, chk)
        elif isinstance(m, A.TraceDecl):
            self.check_trace(m, comp)
        elif isinstance(m, A.PhaseHook):
            self.check_stmts(m.body, comp)

    def _refractory_sign(self, m: A.RefractoryDecl, comp: str | None, info: Info, chk: ExprChecker) -> None:
        """A neuron cannot be held for less than no time: a constant period, or the default of
        the parameter that holds it (populations' overrides: snnlang/semantics/network.py),
        cannot be negative. E405 at the value that is."""
        value, span, param = self.constant_value(m.period, comp, info, chk)
        if value is not None and value < 0:
            unit = "" if self.time_dim.is_dimensionless else " s"
            what = f"`{param}` is a refractory period and" if param else "a refractory period"
            self.diags.append(error("E405", f"{what} cannot be negative ({value:g}{unit})", span,
                                    "`refractory 0 ms` or no `refractory` line: no refractoriness"))

    def _check_param_constant(self, m: A.ParamDecl, comp: str | None) -> None:
        for name in _names_in(m.value):
            if len(name.parts) != 1:
                continue
            sym = self.scope.visible(name.parts[0], comp)
            if sym is not None and sym.kind != "param":
                self.diags.append(error("E404", f"parameter `{m.name}` depends on the {sym.kind} "
                                        f"`{sym.name}`, which changes during a run", name.span,
                                        "a parameter's value must be built from numbers and parameters"))

    def _target(self, var: str, span: Span, comp: str | None, what: str) -> Symbol | None:
        sym = self.scope.visible(var, comp)
        if sym is None:
            self._lookup_simple(var, span, comp)  # reports unknown / wrong compartment
            return None
        if sym.kind != "state":
            msg, hint = self.read_only_message(sym)
            code = "E500" if sym.kind in ("param", "input", "event") else "E213"
            self.diags.append(error(code, f"{what} of `{var}`, which is a {sym.kind}: {msg}", span,
                                    hint or "only a `state` has an ODE or an update"))
            return None
        return sym

    def _check_ode(self, m: A.OdeDecl, comp, chk: ExprChecker, defined_by: dict[str, str]) -> None:
        if m.method is not None and m.method not in B.SOLVERS:
            self.diags.append(error("E214", f"unknown solver `{m.method}`", m.method_span or m.span,
                                    did_you_mean(m.method, B.SOLVERS) or
                                    "solvers: " + ", ".join(B.SOLVERS)))
        rhs = chk.infer(m.rhs)
        sym = self._target(m.var, m.var_span, comp, "an ODE")
        if sym is None:
            return
        self._define_once(sym, "an ODE", m.var_span, defined_by)
        want = self.dim_of(sym) / self.time_dim
        if not rhs.unknown and not sym.dim_unknown and rhs.dim != want:
            from snnlang.semantics.units import conversion_hint
            self.diags.append(error(
                "E304", f"d{m.var}/dt must be {describe(want)}, but the right-hand side is "
                f"{describe(rhs.dim)}", m.rhs.span, conversion_hint(rhs.dim, want)))

    def _check_update(self, m: A.UpdateDecl, comp, chk: ExprChecker, defined_by: dict[str, str]) -> None:
        rhs = chk.infer(m.rhs)
        sym = self._target(m.var, m.var_span, comp, "an update")
        if sym is None:
            return
        self._define_once(sym, "an update", m.var_span, defined_by)
        target = self.info(sym)
        if not rhs.unknown and not target.unknown and rhs.dim != target.dim and not (rhs.const == 0):
            self.diags.append(error(
                "E300", f"`{m.var}` is {describe(target.dim)} but `{m.var} <- ...` gives "
                f"{describe(rhs.dim)}", m.rhs.span))

    def _define_once(self, sym: Symbol, how: str, span: Span, defined_by: dict[str, str]) -> None:
        prior = defined_by.get(sym.name)
        if prior is not None and prior != how:
            self.diags.append(error("E502", f"`{sym.name}` is defined by both {prior} and {how}", span,
                                    "keep one: an ODE `dx/dt = ...` or an update `x <- ...`"))
        elif prior is not None and how == "an ODE":
            self.diags.append(error("E502", f"`{sym.name}` has two ODEs", span))
        defined_by[sym.name] = how

    def check_trace_event(self, on: A.TraceOn, sym: Symbol) -> None:
        parts = on.event.parts
        if parts[0] in ("pre", "post"):
            self.diags.append(error("E504", f"`on {on.event.dotted}` is for synapse traces", on.event.span,
                                    "in a neuron, name one of its events, e.g. `on spike`"))
            return
        if len(parts) != 1 or self.symbols.get(parts[0]) is None or \
                self.symbols[parts[0]].kind != "event":
            self.diags.append(error("E204", f"`{on.event.dotted}` is not an event of neuron "
                                    f"`{self.node.name}`", on.event.span,
                                    did_you_mean(on.event.dotted, self.scope.events())))

    def check_assign(self, s: A.Assign, compartment: str | None) -> None:
        chk = self.checker_for(compartment)
        value = chk.infer(s.value)
        parts = s.target.parts
        if parts[0] in ("pre", "post"):
            self.lookup(s.target, compartment)
            return
        if len(parts) == 2 and parts[0] in self.scope.compartments:
            sym = self.scope.member(parts[0], parts[1])
        elif len(parts) == 1:
            sym = self.scope.visible(parts[0], compartment)
        else:
            sym = None
        if sym is None:
            self.lookup(s.target, compartment)
            return
        if not sym.writable:
            msg, hint = self.read_only_message(sym)
            self.diags.append(error("E500", f"cannot assign `{s.target.dotted}`: {msg}", s.target.span, hint))
            return
        self.check_value_against(self.info(sym), value, s, chk)


def _names_in(expr) -> Iterator[A.Name]:
    stack = [expr]
    while stack:
        n = stack.pop()
        if isinstance(n, A.Name):
            yield n
        elif isinstance(n, A.Call):
            stack.extend(n.args)
            stack.extend(k.value for k in n.kwargs)
        elif isinstance(n, (A.BinOp, A.Compare, A.Logic)):
            stack.extend((n.left, n.right))
        elif isinstance(n, A.UnaryOp):
            stack.append(n.operand)
        elif isinstance(n, A.Conditional):
            stack.extend((n.cond, n.then, n.orelse))


# ==================================================================== synapses


class SynapseChecker(_DefinitionChecker):
    """Checks a synapse once on its own, then once per connection that binds pre and post."""

    where = "synapse"

    def __init__(self, node: A.SynapseDef, diags: list[Diagnostic]) -> None:
        super().__init__(node, diags)
        self.scope = SynapseScope(node.name, self.symbols, self.time_dim, self.unit_free)
        self.pre: PeerBinding | None = None
        self.post: PeerBinding | None = None
        self._checker = ExprChecker(self._lookup, B.DYN, diags, "synapse")

    def checker_for(self, compartment: str | None) -> ExprChecker:
        return self._checker

    def collect(self) -> CheckedDefinition:
        for member, _comp, phases in self._walk():
            sym = None
            if isinstance(member, A.ParamDecl):
                sym = Symbol(member.name, "param", member.name_span, None, member)
            elif isinstance(member, A.StateDecl):
                sym = Symbol(member.name, "state", member.name_span, None, member)
            elif isinstance(member, A.TraceDecl):
                sym = Symbol(member.name, "trace", member.name_span, None, member)
                sym.trace_side = self._trace_side(member)
            elif isinstance(member, A.During):
                self.phase_refs.extend(PhaseRef(p, s) for p, s in zip(member.phases, member.phase_spans))
            if isinstance(member, A.PhaseHook):
                self.phase_refs.append(PhaseRef(member.phase, member.phase_span))
            if sym is not None:
                sym.phases = phases
                self.declare(sym)
        self.scope.plastic_states = self._plastic_states()
        return CheckedDefinition(self.node, self.scope, self.phase_refs)

    def _walk(self):
        def walk(members, phases):
            for m in members:
                if isinstance(m, A.During):
                    yield m, None, phases
                    yield from walk(m.members, phases + m.phases)
                else:
                    yield m, None, phases
        yield from walk(self.node.members, ())

    def _trace_side(self, decl: A.TraceDecl) -> str:
        sides = {on.event.parts[0] for on in decl.on if on.event.parts[0] in ("pre", "post")}
        if len(sides) > 1:
            self.diags.append(error("E504", f"trace `{decl.name}` mixes `pre` and `post` events",
                                    decl.span, "use one trace per side"))
            return "syn"
        return synapse_trace_side(decl, _own_synapse_values(self.node))

    def _plastic_states(self) -> set[str]:
        written: set[str] = set()

        def visit(stmts):
            for s in stmts:
                if isinstance(s, A.If):
                    visit(s.body)
                    for _c, b in s.elifs:
                        visit(b)
                    visit(s.orelse)
                elif len(s.target.parts) == 1:
                    sym = self.symbols.get(s.target.parts[0])
                    if sym is not None and sym.kind == "state":
                        written.add(sym.name)

        for m, _c, _p in self._walk():
            if isinstance(m, (A.OnHandler, A.StepHandler, A.PhaseHook)):
                visit(m.body)
        return written

    def check(self, pre: PeerBinding | None, post: PeerBinding | None) -> None:
        """Check bodies; with pre/post None, `pre.`/`post.` reads are not judged."""
        self.pre, self.post = pre, post
        for sym in self.symbols.values():
            sym.dim = None
        for sym in list(self.symbols.values()):
            self.dim_of(sym)
        for m, _c, _p in self._walk():
            if isinstance(m, A.TraceDecl):
                self.check_trace(m, None)
            elif isinstance(m, A.OnHandler):
                self._check_handler_event(m.event)
                self.check_stmts(m.body, None)
            elif isinstance(m, (A.StepHandler, A.PhaseHook)):
                self.check_stmts(m.body, None)
            elif isinstance(m, (A.ParamDecl, A.StateDecl)):
                pass
            elif isinstance(m, (A.OdeDecl, A.UpdateDecl, A.EventDecl, A.InputDecl, A.RefractoryDecl,
                                A.SurrogateDecl, A.Compartment)):
                self.diags.append(error("E213", "a synapse has no dynamics of its own of this kind",
                                        m.span, "synapses have params, states, traces and handlers; "
                                        "move dynamics into a neuron"))

    # ---------------------------------------------------------------- lookup
    def _lookup(self, name: A.Name) -> Info | None:
        parts = name.parts
        if parts[0] in ("pre", "post"):
            return self._lookup_peer(name)
        if len(parts) > 1:
            self.diags.append(error("E200", f"`{name.dotted}`: only `pre.` and `post.` names have parts "
                                    "in a synapse", name.span))
            return None
        ident = parts[0]
        sym = self.symbols.get(ident)
        if sym is not None:
            return self.info(sym)
        if ident in B.IMPLICIT_NAMES:
            return Info(self.time_dim, FLOAT)
        unit = UNITS.get(ident)
        if unit is not None:
            return Info(unit[1], FLOAT, unit[0])
        self.diags.append(error("E200", f"unknown name `{ident}`", name.span,
                                did_you_mean(ident, itertools.chain(self.symbols, ("pre", "post"))) or
                                "the neurons' variables are read as `pre.NAME` and `post.NAME`"))
        return None

    def _peer_symbol(self, name: A.Name) -> tuple[Symbol | None, bool]:
        """Resolve `pre.X` / `post.X[.Y]`; returns (symbol, known) where known=False means unbound."""
        side = name.parts[0]
        binding = self.pre if side == "pre" else self.post
        rest = name.parts[1:]
        if not rest:
            self.diags.append(error("E200", f"`{side}` alone is not a value", name.span,
                                    f"read a variable, e.g. `{side}.spike`"))
            return None, True
        if binding is None:
            return None, False
        if binding.scope is None:  # an input or label population
            if rest == ("spike",):
                return Symbol("spike", "event", None, None, None, BOOL, DIMENSIONLESS), True
            self.diags.append(error("E200", f"`{name.dotted}`: the {side} side is an {binding.kind} "
                                    "population, which has only `spike`", name.span))
            return None, True
        scope = binding.scope
        if len(rest) == 2 and rest[0] in scope.compartments:
            sym = scope.member(rest[0], rest[1])
        elif len(rest) == 1:
            sym = None
            if binding.compartment is not None:
                sym = scope.member(binding.compartment, rest[0])
            if sym is None:
                sym = scope.visible(rest[0], None)
            if sym is None and rest[0] in scope.symbols and binding.compartment is None:
                other = scope.symbols[rest[0]]
                self.diags.append(error("E200", f"`{name.dotted}` is in compartment `{other.compartment}` "
                                        f"of `{scope.name}`", name.span,
                                        f"write `{side}.{other.compartment}.{rest[0]}`, or connect to "
                                        f"that compartment"))
                return None, True
        else:
            sym = None
        if sym is None:
            self.diags.append(error("E200", f"neuron `{scope.name}` has no `{'.'.join(rest)}`",
                                    name.span, did_you_mean(rest[-1], scope.symbols)))
            return None, True
        return sym, True

    def _lookup_peer(self, name: A.Name) -> Info | None:
        sym, known = self._peer_symbol(name)
        if not known:
            return UNKNOWN
        if sym is None:
            return None
        binding = self.pre if name.parts[0] == "pre" else self.post
        if binding.scope is None:
            return Info(DIMENSIONLESS, BOOL)
        return Info(sym.dim if sym.dim is not None else DIMENSIONLESS, sym.type, unknown=sym.dim_unknown)

    def _check_handler_event(self, event: A.Name) -> None:
        parts = event.parts
        if parts[0] not in ("pre", "post") or len(parts) > 2:
            self.diags.append(error("E504", f"`on {event.dotted}`: a synapse reacts to `pre`, `post`, "
                                    "`pre.EVENT` or `post.EVENT`", event.span))
            return
        if len(parts) == 2:
            self._check_peer_event(event)

    def _check_peer_event(self, event: A.Name) -> None:
        side, ev = event.parts
        binding = self.pre if side == "pre" else self.post
        if binding is None:
            return
        events = ["spike"] if binding.scope is None else binding.scope.events()
        if ev not in events:
            owner = binding.scope.name if binding.scope else f"this {binding.kind}"
            self.diags.append(error("E204", f"`{ev}` is not an event of `{owner}`", event.span,
                                    did_you_mean(ev, events) or f"its events: {', '.join(events)}"))

    def check_trace_event(self, on: A.TraceOn, sym: Symbol) -> None:
        parts = on.event.parts
        if parts[0] not in ("pre", "post") or len(parts) > 2:
            self.diags.append(error("E504", f"a synapse trace reacts to `pre`, `post` or `pre.EVENT`/"
                                    f"`post.EVENT`, not `{on.event.dotted}`", on.event.span))
        elif len(parts) == 2:
            self._check_peer_event(on.event)

    def check_assign(self, s: A.Assign, compartment: str | None) -> None:
        chk = self._checker
        value = chk.infer(s.value)
        parts = s.target.parts
        if parts[0] == "pre":
            self.diags.append(error("E501", f"a synapse cannot write `{s.target.dotted}`", s.target.span,
                                    "a synapse delivers only to its postsynaptic neuron (`post.PORT += w`)"))
            return
        if parts[0] == "post":
            if s.op not in ("+=", "-="):
                self.diags.append(error("E501", f"`{s.target.dotted} {s.op} ...`: a synapse may only add to "
                                        "the postsynaptic neuron", s.span, "use `+=` or `-=`"))
                return
            sym, known = self._peer_symbol(s.target)
            if not known or sym is None:
                return
            if sym.kind not in ("input", "state"):
                self.diags.append(error("E503", f"`{s.target.dotted}` is a {sym.kind}; a synapse delivers "
                                        "into an input port or a state", s.target.span))
                return
            target = Info(sym.dim if sym.dim is not None else DIMENSIONLESS, sym.type)
            if not value.unknown and not sym.dim_unknown and target.dim != value.dim:
                hint = (f"declare the port's unit, e.g. `input {sym.name}: ...`"
                        if sym.kind == "input" and target.dim.is_dimensionless else "")
                self.diags.append(error("E300", f"`{s.target.dotted}` is {describe(target.dim)} but the "
                                        f"delivered value is {describe(value.dim)}", s.value.span, hint))
            return
        if len(parts) != 1:
            self._lookup(s.target)
            return
        sym = self.symbols.get(parts[0])
        if sym is None:
            self._lookup(s.target)
            return
        if not sym.writable:
            msg, hint = self.read_only_message(sym)
            self.diags.append(error("E500", f"cannot assign `{s.target.dotted}`: {msg}", s.target.span, hint))
            return
        self.check_value_against(self.info(sym), value, s, chk)


__all__ = ["NeuronChecker", "SynapseChecker", "CheckedDefinition", "PhaseRef", "show", "INT", "ValueType"]
