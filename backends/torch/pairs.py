"""Dense connections without materialising (batch, N_post, N_pre): separable pair expressions.

A synapse expression over the pairs (b, i, j) of a dense connection usually is a sum of
products whose factors each depend on one of: nothing (parameters), the post neuron (b, i),
the pre neuron (b, j), or the pair (i, j) alone (the weight matrix). For such a term
    c * post(b, i) * pre(b, j) * pair(i, j)
the two sums the step needs are matrix products:
    delivery   sum_j  ->  c * post * linear(pre, pair)          (B, N_post)
    learning   sum_b  ->  c * pair * (post^T @ pre)             (N_post, N_pre)
so transmission is one matmul per statement and plasticity one batched outer product reduced
over the batch (the `batch sum|mean` of the model). A trigger (`on pre`, `on post`) is a 0/1
factor of its side. Anything else (a factor mixing sides, a random draw per pair, a mask) is
evaluated over the full pair domain instead.

The products associate differently from the reference's per-pair evaluation, so results agree
to rounding (a few ulps), not bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from .printer import STOCHASTIC, uses

SCALAR, POST, PRE, PAIR = "S", "I", "J", "P"


@dataclass
class Term:
    """One product of a separable sum: its factors grouped by what they depend on."""

    scalar: list = field(default_factory=list)
    post: list = field(default_factory=list)
    pre: list = field(default_factory=list)
    pair: list = field(default_factory=list)

    def group(self, kind: str) -> sympy.Expr | None:
        factors = {SCALAR: self.scalar, POST: self.post, PRE: self.pre, PAIR: self.pair}[kind]
        return sympy.Mul(*factors) if factors else None


def factor_kind(expr, kind_of_name) -> str | None:
    """SCALAR, POST, PRE or PAIR if every name `expr` reads is of that kind (or a scalar); None if
    it mixes kinds or draws random numbers per pair."""
    if uses(expr, STOCHASTIC):
        return None
    kinds = {kind_of_name(str(s)) for s in sympy.sympify(expr).free_symbols} - {SCALAR}
    if not kinds:
        return SCALAR
    if len(kinds) == 1 and None not in kinds:
        return kinds.pop()
    return None


def separate(expr, kind_of_name) -> list[Term] | None:
    """`expr` as a sum of separable products, or None if one of its terms is not separable."""
    terms = []
    for t in sympy.Add.make_args(sympy.sympify(expr)):
        term = Term()
        for f in sympy.Mul.make_args(t):
            kind = factor_kind(f, kind_of_name)
            if kind is None:
                return None
            {SCALAR: term.scalar, POST: term.post, PRE: term.pre, PAIR: term.pair}[kind].append(f)
        terms.append(term)
    return terms


def times(*codes: str | None) -> str | None:
    """The product of the given code snippets (None entries left out; None if all are None)."""
    parts = [c for c in codes if c is not None]
    if not parts:
        return None
    return " * ".join(f"({p})" if len(parts) > 1 else p for p in parts)


def sum_over_pre(post: str | None, pre: str | None, pair: str | None, scalar: str | None, n_pre: int) -> str:
    """Code of sum_j scalar * post[b, i] * pre[b, j] * pair[i, j]: broadcastable to (B, N_post)."""
    if pair is not None and pre is not None:
        core = f"torch.nn.functional.linear({pre}, {pair})"
    elif pair is not None:
        core = f"({pair}).sum(-1)"
    elif pre is not None:
        core = f"({pre}).sum(-1, keepdim=True)"
    else:
        core = str(n_pre)
    return times(core, post, scalar)


def sum_over_batch(post: str | None, pre: str | None, pair: str | None, scalar: str | None) -> str:
    """Code of sum_b scalar * post[b, i] * pre[b, j] * pair[i, j]: broadcastable to (N_post, N_pre)."""
    if post is not None and pre is not None:
        core = f"torch.matmul(({post}).transpose(0, 1), {pre})"
    elif post is not None:
        core = f"({post}).sum(0)[:, None]"
    elif pre is not None:
        core = f"({pre}).sum(0)[None, :]"
    else:
        core = "B"
    return times(core, pair, scalar)
