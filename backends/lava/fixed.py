"""Float-to-fixed conversion of a Loihi learning connection, and its `dw` / `dt` strings.

A rule in model units (rules.py) becomes a Loihi rule once three kinds of scale are chosen:
  s_w   model units of one Lava weight unit (fixed_pt: one step of the 8-bit weight)
  s_t   model units of one unit of the tag t
  σ_k   model units of one unit of Lava trace k (impulse = increment / σ_k)
A product  target += c * D * prod(F)  then has the Lava coefficient
  C = c * prod(σ_k for trace factors) * s_w^(#w) * s_t^(#t) / s_target,
which must be exactly m * 2^e with |m| <= 7 (4-bit mantissa; -8 also fits) and -7 <= e <= 8.
The scales are solved for, product by product (a product with one scale still free fixes it so
that its C is representable, nearest to that scale's preferred value); what cannot be made
exact is a Misfit naming the product, the nearest representable value and what it would
take -- never a silent rounding.

Per tag the domains differ:
  floating_pt  scales are any positive numbers; preferred: s_w = s_t = 1, impulses 1
  fixed_pt     impulses are integers 1..127 (Lava's 7-bit traces; a fraction would go through
               Lava's stochastic impulse rounding), preferably <= 31 so that about four impulses
               fit below the saturation at 127; the weights must fit 8 bits: s_w >= twice the
               largest initial |w| / 255 (growth room; Loihi saturates at 255 * s_w). Lava's
               bit-approximate engine right-shifts a product whose factor widths (traces 7,
               w and t 9, spike flags 1) plus the 4-bit mantissa exceed 15 bits by the excess
               before applying 2^e (anchors.md 1b): the string's exponent is raised by that
               shift so the product keeps its value (its low bits are truncated: emulate.py
               reproduces that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .rules import Misfit, RulePlan, Term

WIDTH = {"x0": 1, "y0": 1, "x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "t": 9}
MANTISSA_BITS = 4
ACCUMULATOR_BITS = 15
E_MIN, E_MAX = -7, 8
TRACE_MAX = 127
IMPULSE_PREFERRED_MAX = 31
WEIGHT_MAX = 255
HEADROOM = 2.0
REL_TOL = 1e-9
# A spike flag as a factor (x0 * y0): Lava's fixed-point engine reads x0 / y0 as factors, its
# floating-point one does not ("Unknown Factor"). A spare trace with impulse 1 that forgets
# everything within a step (tau -> 0: exp(-1/tau) = 0.0 exactly) holds the flag of this step
# instead, in both tags alike.
SPIKE_TAU = 1e-6


def representable(value: float, shift: int = 0) -> tuple[int, int] | None:
    """(m, e) with value == m * 2^e exactly (relative 1e-9), -8 <= m <= 7, -7 <= e + shift <= 8.
    The mantissa is made odd where the exponent allows: Lava keeps a literal's (m, e) as written
    (it only halves |m| > 7), and in fixed point (m, e) and (2m, e - 1) truncate differently."""
    if value == 0 or not math.isfinite(value):
        return None
    for e in range(E_MIN - shift, E_MAX - shift + 1):
        m = value / 2.0 ** e
        mi = round(m)
        if mi != 0 and -8 <= mi <= 7 and abs(m - mi) <= REL_TOL * abs(m):
            while mi % 2 == 0 and e + 1 + shift <= E_MAX:
                mi //= 2
                e += 1
            return mi, e
    return None


def nearest(value: float, shift: int = 0) -> tuple[int, int, float]:
    """The representable value nearest to `value`: (m, e, m * 2^e)."""
    best = None
    for e in range(E_MIN - shift, E_MAX - shift + 1):
        for m in range(-8, 8):
            if m == 0:
                continue
            v = m * 2.0 ** e
            d = abs(v - value)
            if best is None or d < best[0]:
                best = (d, m, e, v)
    return best[1], best[2], best[3]


@dataclass(frozen=True)
class Product:
    """One product of the Loihi rule, in Lava units."""

    term: Term
    mantissa: int
    exponent: int          # C = mantissa * 2^exponent
    shift: int             # fixed_pt: the implicit right shift (the string's exponent is exponent + shift)

    @property
    def value(self) -> float:
        return self.mantissa * 2.0 ** self.exponent

    def literal(self) -> str:
        e = self.exponent + self.shift
        m = abs(self.mantissa)
        return f"{m}*2^{e}" if e != 0 else f"{m}"

    def text(self) -> str:
        return "*".join([self.literal(), self.term.dependency, *self.term.factors])


def rule_string(products: list[Product], target: str) -> str | None:
    """The Loihi string of one target (`dw` / `dt`), or None without products."""
    out = ""
    for p in products:
        if p.term.target != target:
            continue
        sign = "-" if p.mantissa < 0 else "+"
        if not out:
            out = ("-" if sign == "-" else "") + p.text()
        else:
            out += f" {sign} {p.text()}"
    return out or None


@dataclass
class Conversion:
    """The Loihi configuration of one learning connection under one tag."""

    tag: str
    weight_scale: float
    tag_scale: float
    trace_scales: dict[str, float]
    impulses: dict[str, float]
    taus: dict[str, float]
    products: list[Product]
    sign_mode: str
    notes: list[str] = field(default_factory=list)

    def strings(self) -> dict[str, str]:
        out = {}
        for target in ("dw", "dt"):
            s = rule_string(self.products, target)
            if s is not None:
                out[target] = s
        return out

    def rule_kwargs(self, seed: int) -> dict:
        """Keyword arguments of Loihi2FLearningRule."""
        kw: dict = dict(self.strings())
        for lava, impulse in self.impulses.items():
            kw[f"{lava}_impulse"] = impulse
            kw[f"{lava}_tau"] = self.taus[lava]
        kw["t_epoch"] = 1
        kw["rng_seed"] = int(seed)
        return kw


def _exponents(term: Term) -> dict[str, int]:
    """The scale variables of a product's Lava coefficient and their powers."""
    out: dict[str, int] = {}

    def add(name, k):
        out[name] = out.get(name, 0) + k

    add("s_w" if term.target == "dw" else "s_t", -1)
    for f in term.factors:
        if f == "w":
            add("s_w", 1)
        elif f == "t":
            add("s_t", 1)
        elif f not in ("x0", "y0"):
            add("σ:" + f, 1)
    return {k: v for k, v in out.items() if v != 0}


def shift_of(term: Term, tag: str) -> int:
    if tag != "fixed_pt":
        return 0
    width = sum(WIDTH[f] for f in term.factors) + MANTISSA_BITS
    return max(0, width - ACCUMULATOR_BITS)


class _Solver:
    def __init__(self, plan: RulePlan, tag: str, weight_absmax: float) -> None:
        self.plan, self.tag = plan, tag
        self.values: dict[str, float] = {}
        self.increments = {t.lava: t.increment for t in plan.traces}
        self.s_min = HEADROOM * weight_absmax / WEIGHT_MAX if weight_absmax > 0 else None

    # preferred values and domains ---------------------------------------------------------
    def preferred(self, var: str) -> float:
        if var == "s_w":
            return self.s_min if (self.tag == "fixed_pt" and self.s_min) else 1.0
        if var == "s_t":
            return self.values.get("s_w", 1.0)
        inc = self.increments[var[2:]]
        return inc / (16.0 if self.tag == "fixed_pt" else 1.0)

    def impulse_order(self) -> list[int]:
        """fixed_pt impulses, best first: powers of two up to 31 (products of powers of two stay
        representable), the other values up to 31, then 32..127 (powers of two first)."""
        low = list(range(IMPULSE_PREFERRED_MAX, 0, -1))
        high = list(range(IMPULSE_PREFERRED_MAX + 1, TRACE_MAX + 1))
        two = lambda n: n & (n - 1) == 0  # noqa: E731
        return ([n for n in low if two(n)] + [n for n in low if not two(n)] + [n for n in high if two(n)]
                + [n for n in high if not two(n)])

    def candidates(self, var: str, constant: float, power: int, shift: int):
        """Values of `var` that make constant * var^power representable, best first."""
        found = []
        if var.startswith("σ:") and self.tag == "fixed_pt":
            inc = self.increments[var[2:]]
            for impulse in self.impulse_order():
                sigma = inc / impulse
                if representable(constant * sigma ** power, shift):
                    found.append(sigma)
            return found
        pref = self.preferred(var)
        for e in range(E_MIN - shift, E_MAX - shift + 1):
            for m in range(1, 8, 2):
                target = m * 2.0 ** e
                v = (target / abs(constant)) ** (1.0 / power)
                if not (v > 0 and math.isfinite(v)):
                    continue
                if var == "s_w" and self.tag == "fixed_pt" and self.s_min and v < self.s_min * (1 - 1e-12):
                    continue
                found.append(v)
        if var == "s_w" and self.tag == "fixed_pt" and self.s_min:
            return sorted(found)                 # the finest weight step that still fits
        return sorted(found, key=lambda v: abs(math.log(v / pref)))

    def defaults(self, var: str) -> list[float]:
        """Values to try for a variable no single product determines."""
        if var.startswith("σ:") and self.tag == "fixed_pt":
            inc = self.increments[var[2:]]
            return [inc / n for n in self.impulse_order()]
        return [self.preferred(var)]

    # solving ---------------------------------------------------------------------------------
    def constant(self, term: Term, exps: dict[str, int], skip: str | None = None) -> float:
        c = term.coefficient
        for var, k in exps.items():
            if var != skip:
                c *= self.values[var] ** k
        return c

    def _exact(self, t: Term, exps: dict) -> bool:
        return representable(self.constant(t, exps[id(t)]), shift_of(t, self.tag)) is not None

    def _search(self, terms: list[Term], exps: dict, budget: int = 20000) -> bool:
        """Depth-first search for scales under which every product is representable: a variable
        is tried with the values a product it alone still leaves open admits (best first), else
        with its defaults; every product whose scales are all chosen is checked at once."""
        order: list[str] = []
        every = {v for t in terms for v in exps[id(t)]}
        for var in ("s_w", "s_t"):        # the weight scale first: the tag's default follows it
            if var in every and var not in self.values:
                order.append(var)
        for t in sorted(terms, key=lambda t: len(exps[id(t)])):
            for var in sorted(exps[id(t)]):
                if var not in order and var not in self.values:
                    order.append(var)
        nodes = [0]

        def options(var: str) -> list[float]:
            for t in sorted(terms, key=lambda t: len(exps[id(t)])):
                free = [v for v in exps[id(t)] if v not in self.values]
                if free == [var]:
                    return self.candidates(var, self.constant(t, exps[id(t)], var), exps[id(t)][var],
                                           shift_of(t, self.tag))[:16]
            return self.defaults(var)

        def dfs(i: int) -> bool:
            if i == len(order):
                return True
            var = order[i]
            for value in options(var):
                nodes[0] += 1
                if nodes[0] > budget:
                    return False
                self.values[var] = value
                done = [t for t in terms if var in exps[id(t)] and all(v in self.values for v in exps[id(t)])]
                if all(self._exact(t, exps) for t in done) and dfs(i + 1):
                    return True
            self.values.pop(var, None)
            return False

        return dfs(0)

    def _greedy(self, terms: list[Term], exps: dict) -> None:
        pending = list(terms)
        while True:
            progress = False
            pending.sort(key=lambda t: sum(1 for v in exps[id(t)] if v not in self.values))
            for t in list(pending):
                free = [v for v in exps[id(t)] if v not in self.values]
                if len(free) == 1:
                    var = free[0]
                    cands = self.candidates(var, self.constant(t, exps[id(t)], var), exps[id(t)][var],
                                            shift_of(t, self.tag))
                    if cands:
                        self.values[var] = cands[0]
                        progress = True
                        break
            if progress:
                continue
            free_all = sorted({v for t in pending for v in exps[id(t)] if v not in self.values},
                              key=lambda v: (v != "s_w", v != "s_t", v))
            if not free_all:
                break
            self.values[free_all[0]] = self.defaults(free_all[0])[0]

    def solve(self) -> tuple[list[Product], list[Misfit]]:
        terms = list(self.plan.terms)
        exps = {id(t): _exponents(t) for t in terms}
        if not self._search(terms, exps):
            self._greedy(terms, exps)              # no exact assignment: report the products that fail
        for var in ("s_w", "s_t"):
            self.values.setdefault(var, self.preferred(var) if var == "s_w" else self.values.get("s_w", 1.0))
        for tr in self.plan.traces:
            key = "σ:" + tr.lava
            if key not in self.values:
                self.values[key] = tr.increment / (16.0 if self.tag == "fixed_pt" else 1.0)
        products, misfits = [], []
        for t in terms:
            shift = shift_of(t, self.tag)
            value = self.constant(t, exps[id(t)])
            found = representable(value, shift)
            if found is None:
                m, e, v = nearest(value, shift)
                misfits.append(Misfit(
                    f"under {self.tag}, the product {t.dependency}*{'*'.join(t.factors) or '1'} of `{t.target}` "
                    f"needs the coefficient {value:.6g}, which is not m * 2^e (|m| <= 7, -7 <= e <= 8)",
                    t.origins[0] if t.origins else None,
                    f"the nearest Loihi coefficient is {m}*2^{e} = {v:.6g} (off by {abs(v - value) / abs(value):.2%}); "
                    "change the rule's constants so that the ratios between its products are (1, 3, 5 or 7) "
                    "times a power of two, or accept approximations (approximate=True)"))
                continue
            products.append(Product(t, found[0], found[1], shift))
        return products, misfits


def _spike_factors(plan: RulePlan) -> tuple[RulePlan, dict[str, str], list[Misfit]]:
    """`plan` with every spike-flag factor (x0 / y0 after the dependency) read from a spare trace."""
    from dataclasses import replace
    used = {t.lava for t in plan.traces}
    free = {"x0": [n for n in ("x1", "x2") if n not in used], "y0": [n for n in ("y1", "y2", "y3") if n not in used]}
    spikes: dict[str, str] = {}
    misfits: list[Misfit] = []
    terms = []
    for t in plan.terms:
        factors = []
        for f in t.factors:
            if f in ("x0", "y0"):
                if f not in spikes.values():
                    if not free[f]:
                        misfits.append(Misfit(
                            f"the product {t.dependency}*{'*'.join(t.factors)} needs the spike flag {f} as a factor "
                            "and every trace of that side is taken", t.origins[0] if t.origins else None,
                            "Lava reads a spike flag as a factor only through a spare trace (impulse 1, no "
                            "memory); use one trace less on that side"))
                        return plan, spikes, misfits
                    spikes[free[f].pop(0)] = f
                f = next(k for k, v in spikes.items() if v == f)
            factors.append(f)
        terms.append(replace(t, factors=tuple(sorted(factors))))
    return replace(plan, terms=tuple(terms)), spikes, []


def convert(plan: RulePlan, tag: str, weight_absmax: float) -> tuple[Conversion | None, list[Misfit]]:
    """The Loihi configuration of `plan` under `tag` (floating_pt | fixed_pt), or the misfits."""
    plan, spikes, bad = _spike_factors(plan)
    if bad:
        return None, bad
    solver = _Solver(plan, tag, weight_absmax)
    for lava in spikes:
        solver.values["σ:" + lava] = 1.0          # the factor is the flag itself
    products, misfits = solver.solve()
    if misfits:
        return None, misfits
    v = solver.values
    scales = {tr.lava: v["σ:" + tr.lava] for tr in plan.traces}
    impulses = {lava: next(t.increment for t in plan.traces if t.lava == lava) / s for lava, s in scales.items()}
    if tag == "fixed_pt":
        impulses = {k: float(round(x)) for k, x in impulses.items()}
    taus = {t.lava: t.tau_steps for t in plan.traces}
    for lava, flag in spikes.items():
        impulses[lava], taus[lava] = 1.0, SPIKE_TAU
    conv = Conversion(tag, v["s_w"], v["s_t"], scales, impulses, taus, products, plan.sign_mode)
    for lava, flag in spikes.items():
        conv.notes.append(f"{lava} holds the spike flag {flag} of this step (impulse 1, tau {SPIKE_TAU:g}): "
                          "Lava's floating-point engine cannot read x0 / y0 as factors")
    if tag == "fixed_pt":
        conv.notes.append(f"weights: 8 bits, one step = {v['s_w']:.6g} model units; Loihi saturates them at "
                          f"{WEIGHT_MAX} steps = {WEIGHT_MAX * v['s_w']:.6g}")
        for p in products:
            if p.shift:
                conv.notes.append(f"{p.text()}: factor widths exceed the 15-bit accumulator, Lava shifts the "
                                  f"product right by {p.shift} bits (low bits truncated); the exponent is "
                                  f"raised by {p.shift} to keep its value")
    return conv, []
