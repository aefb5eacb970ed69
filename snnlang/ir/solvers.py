"""ODE systems -> discrete-time updates: which integrator, and the update it gives.

`solve(system, dt, constants)` splits a neuron's ODEs into blocks, picks an
integrator per block, and returns each block's update `x_new = expr(x_old, dt, ...)`
(simultaneous assignment) with a short reason for `snnc explain`.

Blocks. Variable x depends on y when y occurs in dx/dt. Strongly connected
components of that graph are the coupled blocks. A block whose equations are
linear in the block's variables with coefficients constant over a step (only
`constants`, `dt` and symbols that are not ODE variables of this system) is
solved exactly, and it absorbs the linear blocks it depends on, so a whole
feed-forward linear chain (alpha synapse -> membrane) becomes one exactly solved
system (a merge is skipped when the union would not be linear, would exceed
MAX_EXACT_GROUP variables, or would close a cycle through a block solved another
way). Otherwise a block is integrated by exponential Euler when every equation
is conditionally linear in its own variable (dx/dt = A x + B with A, B free of x
and A not identically 0), else by RK4 on the whole block. Euler only on request.
A user's `using METHOD` applies to the whole block of its equation.

Over one step every symbol that is not a variable of the block keeps its
start-of-step value: parameters and inputs (`constants`), states updated
elsewhere, and variables of other blocks of this system. The time `t` is the one
exception: the exact propagator treats it as a state with dt/dt = 1 (so a drive
linear in t is integrated exactly) and RK4 advances it per stage; exponential
Euler keeps it at the start of the step. To make "start-of-step values of other
blocks" hold when the program applies the choices one after another, `solve`
returns them with dependents *before* the blocks they read.

Exact propagators: dx/dt = A x + b (b may hold held symbols) is advanced by
exp(M dt) of the augmented matrix M = [[A, b], [0, 0]] (with a row for t when
it occurs), so singular A (integrators) and repeated eigenvalues (alpha kernel
with equal time constants) need no special case. The exponential is built from
the block-triangular structure (Sylvester equation for the coupling blocks,
sympy's Jordan-form exponential only for the small coupled blocks), and each
coefficient is tidied to a sum of `c_k * exp(-dt/tau_k)`. Where a generic
coefficient divides by a parameter expression that can vanish while the ODE
stays finite (tau_m - tau_s, a leak conductance g), the update becomes
`Where(Eq(tau_m, tau_s), <propagator of the degenerate system>, <generic>)`, so
that setting parameters at runtime never divides by zero. Near-equal values still
lose digits to cancellation, as in every closed form of this kind.

Known limits: exponential Euler divides by its A, which must not vanish at
runtime unless it vanishes symbolically (then the update is Euler's); linear
blocks whose eigenvalues involve the square root of an expression of unknown
sign (oscillatory or not depending on parameters), or more than MAX_COUPLED
mutually coupled variables, get no closed form (RK4, or an error when `exact` is
asked for); degenerate-parameter branches are nested at most two deep; RK4 and exponential Euler updates are nested
expressions that a printer should pass through `sympy.cse`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import sympy
from sympy.matrices.exceptions import MatrixError

from snnlang.ir import functions as F

METHODS = ("exact", "exponential_euler", "rk4", "euler")
TIME = sympy.Symbol("t")
MAX_EXACT_GROUP = 8  # merging stops here: bigger symbolic exponentials cost seconds
MAX_COUPLED = 4  # a strongly coupled linear block beyond this gets no symbolic eigenvalues


@dataclass(frozen=True)
class OdeSystem:
    variables: tuple[sympy.Symbol, ...]  # state variables with ODEs, in declaration order
    rhs: tuple[sympy.Expr, ...]  # dx_i/dt = rhs_i
    methods: tuple[str | None, ...]  # per-equation override: None | one of METHODS


@dataclass(frozen=True)
class SolverChoice:
    variables: tuple[sympy.Symbol, ...]  # a group solved together
    method: str  # one of METHODS
    reason: str  # for `snnc explain`
    updates: tuple[tuple[sympy.Symbol, sympy.Expr], ...]  # simultaneous assignment


class SolverError(Exception):
    """An override that cannot be honoured; `.variable` is the equation that asked for it."""

    def __init__(self, message: str, variable: sympy.Symbol | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class _NoClosedForm(Exception):
    pass


def solve(system: OdeSystem, dt: sympy.Symbol, constants: frozenset[sympy.Symbol],
          *, time: sympy.Symbol = TIME) -> tuple[SolverChoice, ...]:
    """Choose an integrator per block of `system` and build its updates (see module doc)."""
    return _Solver(system, dt, constants, time).run()


# ------------------------------------------------------------------ choosing


@dataclass
class _Problem:
    """Why a block is not linear with constant coefficients (or not conditionally linear)."""

    var: sympy.Symbol  # the equation d<var>/dt where it shows
    kind: str  # "nonlinear" | "coefficient" | "spectrum"
    subject: object  # the variable (or t) it is about; the block's variables for "spectrum"
    detail: object  # offending term / varying symbols / offending radical

    def short(self) -> str:
        if self.kind == "nonlinear":
            return f"nonlinear in {self.subject} ({self.detail})"
        if self.kind == "coefficient":
            return f"coefficient of {self.subject} depends on {_names(self.detail)}"
        return f"linear, but its matrix has {self.detail}"

    def sentence(self) -> str:
        eq = f"`d{self.var}/dt`"
        if self.kind == "nonlinear":
            return f"{eq} is not linear in {self.subject} (term {self.detail})"
        if self.kind == "coefficient":
            return (f"in {eq} the coefficient of {self.subject} depends on {_names(self.detail)}, "
                    "which changes during the step")
        return (f"the linear system {_names(self.subject)} has {self.detail}, "
                "so it has no closed-form real propagator")


@dataclass(eq=False)
class _Group:
    """Variables solved together; `asked` is the user's method for them, if any."""

    vars: list
    method: str | None  # None: not exact, decided (exponential Euler or RK4) when built
    asked: str | None


class _Solver:
    def __init__(self, system: OdeSystem, dt, constants, time) -> None:
        n = len(system.variables)
        if not (len(system.rhs) == len(system.methods) == n) or len(set(system.variables)) != n:
            raise ValueError("OdeSystem needs one rhs and one method per distinct variable")
        self.vars = tuple(system.variables)
        self.rhs = {v: sympy.sympify(r) for v, r in zip(self.vars, system.rhs)}
        self.index = {v: i for i, v in enumerate(self.vars)}
        self.dt, self.t = dt, time
        self.constants = frozenset(constants) | {dt}
        for v, m in zip(self.vars, system.methods):
            if m is not None and m not in METHODS:
                raise SolverError(f"unknown integration method '{m}' for `d{v}/dt` "
                                  f"(expected {', '.join(METHODS[:-1])} or {METHODS[-1]})", v)
        self.override = dict(zip(self.vars, system.methods))
        self.varying = set(self.vars) | {time}
        deps = [{self.index[s] for s in self.rhs[v].free_symbols if s in self.index} - {i}
                for i, v in enumerate(self.vars)]
        self.blocks = [tuple(self.vars[i] for i in b) for b in _ordered_sccs(len(self.vars), deps)]
        self.block_of = {v: b for b in self.blocks for v in b}

    # -- per block ------------------------------------------------------------

    def run(self) -> tuple[SolverChoice, ...]:
        group_of: dict[tuple, _Group] = {}  # block -> its group
        groups: list[_Group] = []
        for block in self.blocks:
            method, asker = self._block_override(block)
            if method in (None, "exact"):
                problem = self._exact_problem(block)
                if problem is None:
                    group = _Group(list(block), "exact", method)
                    groups.append(group)
                    group_of[block] = group
                    self._absorb(group, block, groups, group_of)
                    continue
                if method == "exact":
                    raise SolverError(self._impossible(problem, block, asker, "exact integration"), asker)
            elif method == "exponential_euler":
                problem = self._conditional_problem(block)
                if problem is not None:
                    raise SolverError(self._impossible(problem, block, asker, "exponential Euler"), asker)
            group = _Group(list(block), method, method)
            groups.append(group)
            group_of[block] = group
        return tuple(self._choice(g) for g in self._emission_order(groups, group_of))

    def _block_override(self, block) -> tuple[str | None, sympy.Symbol | None]:
        asked = [(v, self.override[v]) for v in block if self.override[v] is not None]
        for v, m in asked[1:]:
            if m != asked[0][1]:
                raise SolverError(
                    f"`d{asked[0][0]}/dt` and `d{v}/dt` are coupled and ask for different methods "
                    f"({asked[0][1]}, {m}); one integrator advances a coupled system: give them the "
                    "same method", v)
        return (asked[0][1], asked[0][0]) if asked else (None, block[0])

    def _absorb(self, group, block, groups, group_of) -> None:
        """Merge the exact groups this block reads into its group while the union stays linear."""
        seen = []
        for v in block:
            for s in sorted(self.rhs[v].free_symbols & set(self.vars), key=self.index.get):
                other = group_of.get(self.block_of[s])
                if other is not None and other is not group and other.method == "exact" \
                        and all(other is not o for o in seen):
                    seen.append(other)
        for other in seen:
            union = other.vars + group.vars
            if len(union) > MAX_EXACT_GROUP or self._linear_problem(group.vars, union) is not None \
                    or self._closes_cycle(group, other, group_of):
                continue
            group.vars = sorted(union, key=self.index.get)
            group.asked = group.asked or other.asked
            for b, g in list(group_of.items()):
                if g is other:
                    group_of[b] = group
            groups.remove(other)

    def _closes_cycle(self, group, other, group_of) -> bool:
        """Would merging `group` and `other` make the group graph cyclic (via a third group)?"""
        start = {id(g): g for g in self._group_deps(group, group_of) if g is not other}
        stack, seen = list(start.values()), set(start)
        while stack:
            g = stack.pop()
            for d in self._group_deps(g, group_of):
                if d is other:
                    return True
                if id(d) not in seen and d is not group:
                    seen.add(id(d))
                    stack.append(d)
        return False

    def _group_deps(self, group, group_of) -> list:
        out = {}
        for v in group.vars:
            for s in self.rhs[v].free_symbols & set(self.vars):
                g = group_of.get(self.block_of[s])
                if g is not None and g is not group:
                    out[id(g)] = g
        return list(out.values())

    def _emission_order(self, groups, group_of) -> list:
        """Dependents before what they read, else declaration order (see module doc)."""
        readers = {id(g): 0 for g in groups}
        for g in groups:
            for d in self._group_deps(g, group_of):
                readers[id(d)] += 1
        heap = [(self.index[g.vars[0]], id(g), g) for g in groups if readers[id(g)] == 0]
        heapq.heapify(heap)
        out = []
        while heap:
            _, _, g = heapq.heappop(heap)
            out.append(g)
            for d in self._group_deps(g, group_of):
                readers[id(d)] -= 1
                if readers[id(d)] == 0:
                    heapq.heappush(heap, (self.index[d.vars[0]], id(d), d))
        return out

    # -- classification -------------------------------------------------------

    def _exact_problem(self, block) -> _Problem | None:
        problem = self._linear_problem(block, block)
        if problem is None and len(block) > 1:
            A = sympy.Matrix([[sympy.diff(self.rhs[v], s) for s in block] for v in block])
            radical = _spectrum_problem(A)
            if radical is not None:
                return _Problem(block[0], "spectrum", block, radical)
        return problem

    def _linear_problem(self, eqs, cols) -> _Problem | None:
        """None when the equations of `eqs` are affine in `cols` (and t) with constant coefficients."""
        lin = set(cols)
        everything = list(cols) + [self.t]
        for want in ("nonlinear", "coefficient"):
            for v in eqs:
                rhs = self.rhs[v]
                for s in everything:
                    bad = sympy.diff(rhs, s).free_symbols & self.varying
                    nonlinear = bool(bad & lin) or (s == self.t and self.t in bad)
                    if bad and want == "nonlinear" and nonlinear:
                        dependent = {self.t} if s == self.t else lin
                        return _Problem(v, "nonlinear", s, _offending_term(rhs, s, dependent))
                    if bad and want == "coefficient":
                        return _Problem(v, "coefficient", s, sorted(bad, key=str))
        for v in eqs:
            if not _is_affine(self.rhs[v], everything):
                return _Problem(v, "nonlinear", _names(c for c in everything if self.rhs[v].has(c)),
                                self.rhs[v])
        return None

    def _conditional_problem(self, block) -> _Problem | None:
        for v in block:
            if self._conditional_form(v) is None:
                return _Problem(v, "nonlinear", v, _offending_term(self.rhs[v], v, {v}))
        return None

    def _conditional_form(self, v):
        """(A, B) with dv/dt = A v + B and A, B free of v, or None."""
        rhs = self.rhs[v]
        a = sympy.diff(rhs, v)
        if a.has(v) or not _is_affine(rhs, [v]):
            return None
        return a, rhs.xreplace({v: 0})

    def _impossible(self, problem, block, asker, what) -> str:
        msg = problem.sentence()
        if problem.var != asker:
            others = ", ".join(f"`d{v}/dt`" for v in block if v != asker)
            msg = f"`d{asker}/dt` is solved together with {others} (they are coupled), and {msg}"
        alternatives = ["rk4"]
        if what == "exact integration" and self._conditional_problem(block) is None:
            alternatives.insert(0, "exponential_euler")
        return f"{msg}: {what} is impossible; use {' or '.join(alternatives)}"

    # -- building the choice ---------------------------------------------------

    def _choice(self, group: _Group) -> SolverChoice:
        variables, method, asked = tuple(group.vars), group.method, group.asked
        if method is None:
            problem = self._exact_problem(tuple(variables))
            why = problem.short()
            if problem.kind != "spectrum" and self._conditional_problem(variables) is None and all(
                    self._conditional_form(v)[0] != 0 for v in variables):
                method, reason = "exponential_euler", (
                    f"conditionally linear in {_names(variables)} ({why}): exponential Euler")
            else:
                method = "rk4"
                what = f"coupled nonlinear system {_names(variables)}, " \
                    if len(variables) > 1 and problem.kind != "spectrum" else ""
                reason = f"{what}{why}: RK4"
        else:
            reason = f"user asked for {method}"
        if method == "exact":
            try:
                updates, degenerate = self._exact(variables, {}, 0)
            except _NoClosedForm as exc:  # the spectrum check normally catches this first
                if asked:
                    raise SolverError(f"no closed-form real propagator for {_names(variables)}: {exc}",
                                      variables[0]) from exc
                method, reason, asked = "rk4", f"linear, but {exc}: RK4", None
            else:
                reason = "user asked for exact; " if asked else ""
                reason += (f"coupled linear system {_names(variables)} with constant coefficients"
                           if len(variables) > 1 else f"linear in {variables[0]} with constant coefficients")
                reason += ": exact propagator (matrix exponential)"
                if degenerate:
                    reason += "; own propagator where " + ", ".join(degenerate)
        if method == "exponential_euler":
            updates = self._exponential_euler(variables)
            plain = [v for v in variables if self._conditional_form(v)[0] == 0]
            if plain:
                reason += f"; Euler for {_names(plain)} (no {_names(plain)} term to exponentiate)"
        elif method == "rk4":
            updates = self._rk4(variables)
        elif method == "euler":
            updates = tuple((v, v + self.dt * self.rhs[v]) for v in variables)
        return SolverChoice(variables, method, reason + self._notes(variables, method), updates)

    def _notes(self, variables, method) -> str:
        if method == "euler":
            return ""  # everything is read at the start of the step anyway
        used = set().union(*(self.rhs[v].free_symbols for v in variables))
        others = [v for v in self.vars if v in used and v not in variables]
        held = sorted(used - self.constants - set(self.vars) - {self.t}, key=str)
        notes = []
        if others:
            notes.append(f"{_names(others)} solved separately, taken at the start of the step")
        if held:
            notes.append(f"{_names(held)} held constant over the step")
        if self.t in used and method == "exponential_euler":
            notes.append("t taken at the start of the step")
        return "".join("; " + n for n in notes)

    def _exact(self, variables, subs, depth):
        """Updates by the augmented matrix exponential, guarded at removable singularities."""
        rhs = [self.rhs[v].xreplace(subs) for v in variables]
        cols = list(variables) + ([self.t] if any(r.has(self.t) for r in rhs) else [])
        n = len(cols)
        M = sympy.zeros(n + 1, n + 1)
        for i, r in enumerate(rhs):
            for j, s in enumerate(cols):
                M[i, j] = sympy.diff(r, s)
            M[i, n] = r.xreplace({s: 0 for s in cols})
        if len(cols) > len(variables):
            M[n - 1, n] = 1  # dt/dt = 1
        E = _expm(M, self.dt)
        coeffs = [[E[i, j] for j in range(n + 1)] for i in range(len(variables))]
        updates = [sum((c * s for c, s in zip(row, cols + [1])), sympy.Integer(0)) for row in coeffs]
        singular = [[f for c in row for f in _denominator_factors(c, self.dt)] for row in coeffs]
        described = []
        for factor in dict.fromkeys(f for fs in singular for f in fs) if depth < 2 else ():
            fix = self._degenerate_case(factor, subs)
            if fix is None:
                continue
            sym, value = fix
            try:
                deeper = {k: e.xreplace({sym: value}) for k, e in subs.items()}
                special, _ = self._exact(variables, {**deeper, sym: value}, depth + 1)
            except _NoClosedForm:
                continue
            described.append(f"{sym} = {value}")
            for i, fs in enumerate(singular):
                if factor in fs:
                    updates[i] = F.Where(F.Eq(sym, value), special[i][1], updates[i])
        return tuple(zip(variables, updates)), described

    def _degenerate_case(self, factor, subs):
        """(symbol, value) making `factor` vanish while every rhs stays finite, or None."""
        for sym in sorted(factor.free_symbols, key=str, reverse=True):
            try:
                if sym in self.varying or sym == self.dt or sympy.degree(factor, sym) != 1:
                    continue
                value = sympy.solve(factor, sym)
            except (sympy.PolynomialError, NotImplementedError):
                continue
            if len(value) != 1:
                continue
            value = value[0]
            if all(not self.rhs[v].xreplace(subs).subs(sym, value).has(sympy.zoo, sympy.nan, sympy.oo)
                   for v in self.vars):
                return sym, value
        return None

    def _exponential_euler(self, variables):
        updates = []
        for v in variables:
            a, b = self._conditional_form(v)
            if a == 0:
                updates.append((v, v + self.dt * b))
                continue
            decay = sympy.exp(sympy.factor_terms(a * self.dt))
            steady = sympy.factor_terms(sympy.cancel(-b / a))  # where dv/dt = 0 for frozen A, B
            updates.append((v, v * decay + steady * (1 - decay)))
        return tuple(updates)

    def _rk4(self, variables):
        f = [self.rhs[v] for v in variables]
        dt, t = self.dt, self.t

        def stage(state, time):
            at = dict(zip(variables, state))
            at[t] = time
            return [fi.xreplace(at) for fi in f]

        x = list(variables)
        k1 = stage(x, t)
        k2 = stage([xi + dt / 2 * k for xi, k in zip(x, k1)], t + dt / 2)
        k3 = stage([xi + dt / 2 * k for xi, k in zip(x, k2)], t + dt / 2)
        k4 = stage([xi + dt * k for xi, k in zip(x, k3)], t + dt)
        return tuple((xi, xi + dt / 6 * (a + 2 * b + 2 * c + d))
                     for xi, a, b, c, d in zip(x, k1, k2, k3, k4))


# ------------------------------------------------------------------ helpers


def _sorted(exprs) -> list:
    """A fixed order for sets of expressions, so the output never depends on hashing."""
    return sorted(exprs, key=sympy.default_sort_key)


def _names(symbols) -> str:
    names = [str(s) for s in symbols]
    return names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"


def _ordered_sccs(n: int, deps: list[set[int]]) -> list[list[int]]:
    """Strongly connected components of i -> deps[i], dependencies first, ties by index."""
    index, low, on_stack, stack, comps = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(deps[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(sorted(comp))

    for v in range(n):
        if v not in index:
            visit(v)
    comp_of = {v: c for c, comp in enumerate(comps) for v in comp}
    waiting = [len({comp_of[w] for v in comp for w in deps[v]} - {c}) for c, comp in enumerate(comps)]
    readers = [set() for _ in comps]
    for c, comp in enumerate(comps):
        for d in {comp_of[w] for v in comp for w in deps[v]} - {c}:
            readers[d].add(c)
    heap = [(comps[c][0], c) for c in range(len(comps)) if waiting[c] == 0]
    heapq.heapify(heap)
    out = []
    while heap:
        _, c = heapq.heappop(heap)
        out.append(comps[c])
        for r in readers[c]:
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(heap, (comps[r][0], r))
    return out


def _is_affine(expr, cols) -> bool:
    """expr == sum(d expr/d c * c) + expr|_{cols=0} (also catches floor, sign, ... whose d/dx is 0)."""
    try:
        rest = expr.xreplace({c: 0 for c in cols})
        residual = expr - rest - sum((sympy.diff(expr, c) * c for c in cols), sympy.Integer(0))
        if residual.has(sympy.zoo, sympy.nan):
            return False
        residual = sympy.expand(residual)
        return residual == 0 or sympy.simplify(residual) == 0
    except (TypeError, ValueError, NotImplementedError):
        return False


def _offending_term(expr, s, dependent: set) -> sympy.Expr:
    """The part of a term of `expr` that makes it nonlinear in s (e.g. v**2 of 0.04*v**2)."""
    for term in sympy.Add.make_args(sympy.expand_mul(expr, deep=False)):
        if sympy.diff(term, s).free_symbols & (dependent | {s}):
            _, part = term.as_independent(*(dependent | {s}), as_Add=False)
            return part
    return expr


def _spectrum_problem(A: sympy.Matrix) -> str | None:
    """Why the eigenvalues of a coupled block A give no usable real closed form, else None."""
    if A.rows > MAX_COUPLED:
        return f"{A.rows} mutually coupled variables (at most {MAX_COUPLED} get a closed form)"
    real = {s: sympy.Dummy(s.name, real=True) for s in _sorted(A.free_symbols)}
    back = {d: s for s, d in real.items()}
    try:
        eigen = A.xreplace(real).eigenvals()
    except (NotImplementedError, sympy.PolynomialError, MatrixError):
        eigen = None
    if eigen is None or any(lam.has(sympy.CRootOf) for lam in eigen):
        return "eigenvalues without a closed form"
    for lam in _sorted(eigen):
        for p in _sorted(lam.atoms(sympy.Pow)):
            if not p.exp.is_integer and p.base.is_nonnegative is None and p.base.is_negative is None:
                return f"eigenvalues involving {p.xreplace(back)}, whose sign depends on the parameters"
    return None


def _expm(M: sympy.Matrix, dt) -> sympy.Matrix:
    """exp(M dt) with tidied coefficients.

    M is block-triangular after ordering its strongly connected blocks. Split the
    blocks into a set P closed under dependencies and the rest Q; when their
    spectra differ, exp(M dt) = [[E_P, 0], [X, E_Q]] where the coupling X solves the
    Sylvester equation M_QQ X - X M_PP = E_Q M_QP - M_QP E_P (from M e^M = e^M M).
    Only blocks that no split separates (shared eigenvalues) meet sympy's
    Jordan-form exponential, which is slow beyond a few variables.
    """
    n = M.rows
    deps = [{j for j in range(n) if j != i and M[i, j] != 0} for i in range(n)]
    blocks = [tuple(b) for b in _ordered_sccs(n, deps)]
    eigen = {b: _eigenvalues(M.extract(list(b), list(b))) for b in blocks}
    of = {i: b for b in blocks for i in b}
    needs = {b: {of[j] for i in b for j in deps[i]} - {b} for b in blocks}
    order, E = _expm_sets(M, blocks, eigen, needs, dt)
    out = sympy.zeros(n, n)
    for a, i in enumerate(order):
        for c, j in enumerate(order):
            out[i, j] = E[a, c]
    return out


def _expm_sets(M, blocks, eigen, needs, dt):
    """(indices, exp of M restricted to them) for `blocks` (a list in dependency order)."""
    for first in _splits(blocks, needs):
        rest = [b for b in blocks if b not in first]
        p = [i for b in first for i in b]
        q = [i for b in rest for i in b]
        coupling = M.extract(q, p)
        if not coupling.is_zero_matrix and any(
                eigen[b] is None or eigen[c] is None or any(sympy.simplify(x - y) == 0
                                                            for x in eigen[b] for y in eigen[c])
                for b in first for c in rest):
            continue  # shared (or unknown) eigenvalue: the Sylvester equation may be singular
        p, E1 = _expm_sets(M, first, eigen, needs, dt)
        q, E2 = _expm_sets(M, rest, eigen, needs, dt)
        n1, n2 = len(p), len(q)
        X = sympy.zeros(n2, n1)
        if not coupling.is_zero_matrix:
            M11, M21, M22 = M.extract(p, p), M.extract(q, p), M.extract(q, q)
            K = sympy.zeros(n1 * n2, n1 * n2)  # vec(M22 X - X M11), column-major vec
            for c in range(n1):
                K[c * n2:(c + 1) * n2, c * n2:(c + 1) * n2] = M22
                for c2 in range(n1):
                    K[c2 * n2:(c2 + 1) * n2, c * n2:(c + 1) * n2] -= M11[c, c2] * sympy.eye(n2)
            R = E2 * M21 - M21 * E1
            vec = K.LUsolve(sympy.Matrix([R[r, c] for c in range(n1) for r in range(n2)]))
            X = sympy.Matrix(n2, n1, lambda r, c: _tidy(vec[c * n2 + r], dt))
        return p + q, sympy.Matrix(sympy.BlockMatrix([[E1, sympy.zeros(n1, n2)], [X, E2]]))
    idx = [i for b in blocks for i in b]
    return idx, _expm_dense(M.extract(idx, idx), dt)


def _eigenvalues(A) -> list | None:
    try:
        return list(A.eigenvals())
    except (NotImplementedError, sympy.PolynomialError, MatrixError):
        return None


def _splits(blocks, needs):
    """Proper subsets of `blocks` closed under dependencies: prefixes, then single closures."""
    inside = set(blocks)
    seen = []
    for k in range(1, len(blocks)):
        seen.append(tuple(blocks[:k]))
    for b in blocks:
        closure, stack = {b}, [b]
        while stack:
            for d in needs[stack.pop()] & inside:
                if d not in closure:
                    closure.add(d)
                    stack.append(d)
        cand = tuple(c for c in blocks if c in closure)
        if len(cand) < len(blocks) and cand not in seen:
            seen.append(cand)
    return seen


def _expm_dense(P, dt) -> sympy.Matrix:
    if P.is_zero_matrix:
        return sympy.eye(P.rows)
    if P.rows == 1:
        return sympy.Matrix([[sympy.exp(P[0, 0] * dt)]])
    real = {s: sympy.Dummy(s.name, real=True) for s in _sorted(P.free_symbols | {dt})}
    back = {d: s for s, d in real.items()}
    try:
        E = (P.xreplace(real) * real[dt]).exp()
    except (NotImplementedError, MatrixError) as exc:
        raise _NoClosedForm(f"sympy cannot exponentiate its matrix ({exc})") from exc
    if E.has(sympy.I):
        E = E.applyfunc(lambda e: sympy.simplify(sympy.expand_complex(e)))
        if E.has(sympy.I):
            raise _NoClosedForm("its exponential keeps complex terms")
    return E.xreplace(back).applyfunc(lambda e: _tidy(e, dt))


def _tidy(expr, dt) -> sympy.Expr:
    """Write expr as sum_k c_k * exp(lambda_k dt) with each c_k factored (printable, cheap)."""
    expr = sympy.expand_power_exp(sympy.sympify(expr))
    rates, repl = {}, {}
    for a in _sorted(expr.atoms(sympy.exp)):
        if a.args[0].has(dt):
            c, rest = sympy.expand(a.args[0]).as_coeff_Mul()
            rates.setdefault(rest, sympy.Dummy("E"))
            repl[a] = rates[rest] ** (-c)  # the dummy stands for exp(-rest)
    if not repl:
        return sympy.factor_terms(sympy.factor(expr))
    dummies = list(rates.values())
    num, den = sympy.fraction(sympy.together(expr.xreplace(repl)))
    den_rest, den_mono = sympy.factor(den).as_independent(*dummies, as_Add=False)
    if den_rest.has(*dummies) or den_mono.is_Add:
        return sympy.simplify(expr)  # not a sum of exponentials over a parameter denominator
    groups: dict = {}
    for term in sympy.Add.make_args(sympy.expand(num)):
        coef, mono = term.as_independent(*dummies, as_Add=False)
        mono = sympy.powsimp(mono / den_mono)
        groups[mono] = groups.get(mono, 0) + coef
    back = {d: sympy.exp(-rest) for rest, d in rates.items()}
    terms = [sympy.factor(c / den_rest) * sympy.powsimp(m.xreplace(back), combine="exp")
             for m, c in groups.items()]
    return sympy.factor_terms(sympy.Add(*terms))


def _denominator_factors(expr, dt) -> list:
    """Parameter factors that a coefficient of exp(lambda dt) divides by (e.g. tau_m - tau_s)."""
    repl = {a: sympy.Dummy("E") for a in _sorted(expr.atoms(sympy.exp)) if a.has(dt)}
    den = sympy.fraction(sympy.together(expr.xreplace(repl)))[1]
    return _sorted(f for f, _ in sympy.factor_list(den)[1]
                   if f.free_symbols and not f.has(dt) and not f.has(*repl.values()))
