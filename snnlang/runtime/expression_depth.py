"""An expression too deep for a backend's code generator, reported at its line.

The checker bounds nesting (E105, at most 100 levels), but solvers multiply depth (an RK4
stage substitutes the right-hand side into itself) and sympy's printers and `lambdify`
recurse once per level, so an allowed expression can still exhaust Python's recursion limit
while a backend builds. Raising that limit risks overflowing the C stack (a crash, not an
error), so a `RecursionError` from lowering or building becomes E105 at the deepest
expression of the network instead, with the fix: split it with intermediate variables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import sympy

from snnlang.diagnostics import Diagnostic, Span, error
from snnlang.ir.model import ModelIR


def depth(expr: sympy.Basic) -> int:
    """Nesting depth of a sympy tree, counted without recursion."""
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((arg, level + 1) for arg in node.args)
    return deepest


def _expressions(node, origin: Span | None) -> Iterator[tuple[sympy.Basic, Span | None]]:
    """Every sympy expression under an IR node, with the nearest enclosing `.snn` span."""
    stack = [(node, origin)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, sympy.Basic):
            yield item, where
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            where = getattr(item, "origin", None) or where
            stack.extend((getattr(item, f.name), where) for f in dataclasses.fields(item))
        elif isinstance(item, (tuple, list, frozenset)):
            stack.extend((x, where) for x in item)


def deepest_expression(ir: ModelIR, network: str | None = None) -> tuple[int, Span | None]:
    """(depth, span) of the deepest expression the network (all networks: None) runs."""
    if network is not None and network in ir.networks:
        net = ir.networks[network]
        parts = [ir.neurons[p.neuron] for p in net.populations if p.neuron in ir.neurons]
        parts += [ir.synapses[c.synapse] for c in net.connections if c.synapse in ir.synapses]
        parts.append(net)
    else:
        parts = [*ir.neurons.values(), *ir.synapses.values(), *ir.networks.values()]
    best: tuple[int, Span | None] = (0, None)
    for part in parts:
        for expr, where in _expressions(part, getattr(part, "origin", None)):
            d = depth(expr)
            if d > best[0]:
                best = (d, where)
    return best


def exceeds_python_nesting(exc: BaseException) -> bool:
    """A recursion limit hit while generating code, or Python's own parser refusing the
    generated module (it allows at most 200 nested parentheses)."""
    if isinstance(exc, RecursionError):
        return True
    return isinstance(exc, SyntaxError) and "too many nested parentheses" in str(exc.msg)


def too_deep(stage: str, span: Span | None, levels: int | None = None) -> Diagnostic:
    """E105 for a RecursionError while `stage` ran (e.g. "building for numba")."""
    size = f" (it nests {levels} levels after solving)" if levels else ""
    return error("E105", f"this expression is nested too deeply for {stage}{size}", span,
                 "split it into intermediate variables (`x <- ...` or a `param`), each a few "
                 "levels deep")
