"""One generated function: the constants it loads, the RNG keys and index tensors it uses, its
temporaries, and writes to states (quantisation, storage dtype, masks).

Every generated function has the same signature, `(S, K, X, G, Q)`:
  S  state name -> tensor (the Executable's arrays; functions rebind, never modify in place)
  K  the constants tuple (0-dim tensors of the backend dtype: parameters, hoisted expressions)
  X  index tensors (RNG element indices, hashed once; sparse pair indices)
  G  the run context: step, k (step in phase), n_steps, phase, A (active), P (plastic),
     D (data), seed, dtype, device, batch, R (batch reduction), surrogate, and for this step
     t (0-dim tensor) and keys (the per-step half of every RNG stream's draws, see ops.key)
  Q  pending delayed deliveries per connection
Its header (written after the body, when everything it uses is known) loads what it needs into
locals, so the body reads like the equations.
"""

from __future__ import annotations

from .code import Code, identifier
from .plan import Plan, StatePlan, fixed_args


class Scope:
    def __init__(self, plan: Plan, what: str) -> None:
        self.plan = plan
        self.what = what
        self.consts: dict[int, str] = {}           # K index -> local
        self.keys: dict[int, str] = {}             # RNG stream -> local key
        self.xs: dict[str, str] = {}               # index tensor -> local
        self.temps = 0
        self.needs_t = False
        self.needs_dev = False

    # ------------------------------------------------------------ names

    def temp(self, hint: str = "t") -> str:
        self.temps += 1
        return f"_{hint}{self.temps}"

    def const(self, code: str, label: str, hint: str | None = None) -> str:
        k = self.plan.constants.add(code, label)
        if k not in self.consts:
            if hint is not None:
                self.consts[k] = self.plan.locals.get(("const", code), hint)
            else:
                self.consts[k] = f"_k{k}"
        return self.consts[k]

    def param(self, owner: str, name: str) -> str:
        p = self.plan.owners[owner].params[name]
        return self.const(f"c[{p.slot}]", f"{owner}.{name}", f"{owner}_{name}")

    def dt(self) -> str:
        return self.const("c[0]", "dt", "dt")

    def t(self) -> str:
        self.needs_t = True
        self.plan.needs_t = True
        return "t"

    def hoist(self, code: str, label: str) -> str:
        return self.const(code, label)

    def key(self, stream: int) -> str:
        """The per-step half of the draws of `stream` (the host computes G.keys for this step)."""
        if stream not in self.keys:
            self.plan.streams.setdefault(stream, len(self.plan.streams))
            self.keys[stream] = f"_r{stream}"
        return self.keys[stream]

    def index(self, name: str, spec: tuple) -> str:
        self.plan.index(name, spec)
        if name not in self.xs:
            self.xs[name] = "_x_" + identifier(name)
        return self.xs[name]

    def device(self) -> str:
        self.needs_dev = True
        return "DEV"

    # ------------------------------------------------------------ header

    def header(self, code: Code) -> None:
        """Loads of what the body used (call after the body)."""
        code.line("DT, B, step, seed, phase = G.dtype, G.batch, G.step, G.seed, G.phase")
        if self.needs_dev:
            code.line("DEV = G.device")
        for k in sorted(self.consts):
            label = self.plan.constants.entries[k][1]
            code.line(f"{self.consts[k]} = K[{k}]".ljust(40) + f"  # {label}")
        if self.needs_t:
            code.line("t = G.t".ljust(40) + "  # step * dt")
        for stream, local in sorted(self.keys.items()):
            code.line(f"{local} = G.keys[{self.plan.streams[stream]}]".ljust(40) + f"  # stream {stream}")
        for name, local in sorted(self.xs.items()):
            code.line(f"{local} = X[{name!r}]")


def write(code: Code, scope: Scope, st: StatePlan, target: str, value: str, rounding_index: str | None,
          mask: str | None = None, origin=None, ste: bool = False) -> None:
    """`target = value` for state `st` (written where `mask`, when given): quantised when the
    variable is fixed point (stochastic rounding draws from its rounding stream at this step,
    element `rounding_index`), cast when it has an explicit float type."""
    vtype = st.fixed
    if vtype is not None:
        u = "None"
        if vtype.rounding == "stochastic":
            u = f"ops.uniform({scope.key(st.stream)}, {rounding_index}, torch.float64)"
        fn = "ops.quantise_ste" if ste else "ops.quantise"
        value = f"{fn}({value}, {fixed_args(vtype)}, u={u})"
    if st.dtype is not None:
        value = f"({value}).to(torch.{st.dtype})"
    if mask is not None:
        code.line(f"{target} = torch.where({mask}, {value}, {target})", origin)
    elif value != target:
        code.line(f"{target} = {value}", origin)


def combine(op: str, old: str, value: str) -> str:
    """`old op= value` as an expression (the reference's statements.combine)."""
    if op == "=":
        return value
    sign = {"+=": "+", "-=": "-", "*=": "*", "/=": "/"}[op]
    return f"{old} {sign} ({value})"


def phase_guard(phases: tuple[str, ...]) -> str | None:
    """The `if` header of an op that runs only in `phases` (None: always)."""
    if not phases:
        return None
    return f"if phase in {tuple(phases)!r}:"
