"""What the kernels of one connection share: how a synapse expression reaches its names, the
loops over pairs of each connectivity, and the arrays they need.

Index names in every connection kernel: `_b` batch row, `_i` post neuron, `_j` pre neuron,
`_k` position of the pair in a sparse connection's storage, `_r` its position in the CSR order.
Per-pair arrays are stored presynaptic-major, so that a presynaptic spike delivers through, and
an `on pre` rule changes, one contiguous run of memory: dense ones (N_pre, N_post), indexed
`[_j, _i]`; sparse ones in column (CSC) order, indexed `[_k]` (a CSR loop finds `_k` through
the connection's `_csr_to_csc`). The Executable's layout stays (N_post, N_pre) and CSR order;
the host transposes or permutes at the boundary. one_to_one arrays are indexed `[_i]`; a tied
variable is the original's array, transposed (`[_i, _j]`) when the tie says so. The RNG index
of a pair is b * N_post * N_pre + i * N_pre + j in every connectivity
(backends/reference/layouts.py), whatever the storage.
"""

from __future__ import annotations

from snnlang.semantics.symbols import ValueType

from .code import Code
from .plan import BuildError, ConnPlan, Plan, StatePlan
from .printer import Context
from .scope import Scope

INDICES = {"_b", "_i", "_j", "_k", "_r", "_q", "_p", "_B", "_n", "_m", "_f", "_x", "_a", "_s"}


class ConnNames:
    """Name resolution and array bookkeeping for one kernel of connection `c`."""

    def __init__(self, plan: Plan, c: ConnPlan, scope: Scope) -> None:
        self.plan = plan
        self.c = c
        self.scope = scope
        self.args: list[tuple[str, str]] = []   # (kernel parameter, module array), in first-use order
        self.rows: dict[str, str] = {}           # learning: var -> local holding this row's value
        self._params: dict[tuple[str, str], str] = {}
        self.n_pre = scope.scalar("n_pre", str(c.n_pre))
        self.n_post = scope.scalar("n_post", str(c.n_post))

    def array(self, role: str, actual: str | None = None) -> str:
        """The kernel parameter for a module array; `role` names it after what it is for the synapse
        (`a_w`, `pre_spike`, `post_I`, `_js`), so connections of the same type share the kernel."""
        actual = actual or role
        key = (role, actual)
        if key not in self._params:
            if role.startswith("_"):
                param = self.scope.names.fixed(("array", key), role)
            else:
                param = self.scope.names.get(("array", key), role)
            self._params[key] = param
            self.args.append((param, actual))
        return self._params[key]

    # ------------------------------------------------------------ storage

    def pair_index(self, state: StatePlan) -> str:
        if state.tie is not None:
            base, transposed = state.tie
            if self.c.layout == "dense":   # the original is stored (its N_pre, its N_post)
                return "_i, _j" if transposed else "_j, _i"
            return "_i"
        return {"dense": "_j, _i", "one_to_one": "_i", "sparse": "_k"}[self.c.layout]

    def own(self, var: str) -> str:
        return self.array(f"a_{var}", self.c.states[var].arg)

    def at_pair(self, var: str) -> str:
        st = self.c.states[var]
        return f"{self.own(var)}[{self.pair_index(st)}]"

    def at_side(self, var: str) -> str:
        st = self.c.states[var]
        return f"{self.own(var)}[_b, {'_j' if st.side == 'pre' else '_i'}]"

    def rounding_index(self, var: str) -> str:
        """The RNG element index for stochastic rounding of a write to `var` at the current element."""
        st = self.c.states[var]
        if st.side in ("pre", "post"):
            n = self.n_pre if st.side == "pre" else self.n_post
            return f"_b * {n} + {'_j' if st.side == 'pre' else '_i'}"
        if st.tie is not None:
            base, transposed = st.tie
            if transposed:   # the original's pair (j, i): its dense index j * N_pre_original + i
                return f"_j * {self.n_post} + _i"
        return f"_i * {self.n_pre} + _j"

    def state_for_write(self, var: str) -> StatePlan:
        """The state a write to `var` quantises with (a tie writes the original's variable)."""
        st = self.c.states[var]
        return st.tie[0] if st.tie is not None else st

    # ------------------------------------------------------------ peers

    def peer(self, side: str, var: str, what: str) -> str:
        pop = self.c.source if side == "pre" else self.c.target
        role = f"{side}_{var}"
        if side == "pre" and var == "spike":
            var = self.c.ir.source_event
        if var in pop.states:
            return f"{self.array(role, pop.states[var].arg)}[_b, {'_j' if side == 'pre' else '_i'}]"
        if var in pop.params:
            return self.scope.param(pop.params[var], role, f"{side}.{var}")
        raise BuildError(f"connection {self.c.name}: {what} reads `{side}.{var}`, which {pop.name} does not have")

    def flag(self, side: str, event: str) -> str:
        """The (batch, N) event array a trigger or a trace clause reads (`pre` = the source event)."""
        pop = self.c.source if side == "pre" else self.c.target
        name = self.c.ir.source_event if (side == "pre" and event == "spike") else event
        st = pop.states.get(name)
        if st is None or st.var.kind != "event":
            raise BuildError(f"connection {self.c.name}: `{side}.{event}` is not an event of {pop.name}")
        return self.array(f"{side}_{event}", st.arg)

    def _common(self, name: str, what: str) -> str:
        c = self.c
        if name in c.params:
            return self.scope.param(c.params[name])
        if name == "dt":
            return self.scope.dt()
        if name == "t":
            self.scope.needs_t = True
            return "t"
        raise BuildError(f"connection {c.name}: {what} reads `{name}`, which is not defined there")

    def _constant(self, name: str) -> bool:
        if name in self.c.params or name == "dt":
            return True
        side, _, var = name.partition(".")
        pop = {"pre": self.c.source, "post": self.c.target}.get(side)
        return pop is not None and var in pop.params

    def _host(self, name: str) -> str:
        if name == "dt":
            return "c[0]"
        if name in self.c.params:
            return f"c[{self.c.params[name].slot}]"
        side, _, var = name.partition(".")
        pop = self.c.source if side == "pre" else self.c.target
        return f"c[{pop.params[var].slot}]"

    # ------------------------------------------------------------ contexts

    def pair_context(self, what: str) -> Context:
        c = self.c

        def symbol(name: str) -> str:
            if name in self.rows:
                return self.rows[name]
            side = c.sides.get(name)
            if side == "syn":
                return self.at_pair(name)
            if side in ("pre", "post"):
                return self.at_side(name)
            peer, _, var = name.partition(".")
            if peer in ("pre", "post") and var:
                return self.peer(peer, var, what)
            return self._common(name, what)

        index = f"_b * {self.n_post} * {self.n_pre} + _i * {self.n_pre} + _j"
        return self.scope.context(symbol, self._constant, self._host, index,
                                  what=f"connection {c.name}: {what}")

    def side_context(self, side: str, what: str) -> Context:
        c = self.c

        def symbol(name: str) -> str:
            if c.sides.get(name) == side:
                return self.at_side(name)
            if name.startswith(side + "."):
                return self.peer(side, name[len(side) + 1:], what)
            return self._common(name, what)

        n = self.n_pre if side == "pre" else self.n_post
        index = f"_b * {n} + {'_j' if side == 'pre' else '_i'}"
        return self.scope.context(symbol, self._constant, self._host, index,
                                  what=f"connection {c.name} ({side}synaptic side): {what}")

    def init_context(self, what: str, fan_in: str, with_rng: bool = True) -> Context:
        c = self.c

        def symbol(name: str) -> str:
            if name == "fan_in":
                return fan_in
            if name == "fan_out":
                return f"float({self.n_post})"
            return self._common(name, what)

        index = f"_i * {self.n_pre} + _j" if with_rng else None
        return self.scope.context(symbol, lambda n: n in c.params or n == "dt", self._host, index,
                                  what=f"connection {c.name}: {what}")

    # ------------------------------------------------------------ loops

    def pair_loop(self, code: Code, body, rows_outer: bool = True) -> None:
        """Every pair of the connection in storage order; `body(code)` sees `_i`, `_j` (and `_k`).
        The body must not depend on the order (each pair is computed on its own)."""
        c = self.c
        if c.layout == "dense":
            with code.block(f"for _j in range({self.n_pre}):"):
                with code.block(f"for _i in range({self.n_post}):"):
                    body(code)
        elif c.layout == "one_to_one":
            with code.block(f"for _i in range({self.n_post}):"):
                code.line("_j = _i")
                body(code)
        else:
            ptr, rows = self.csc_arrays()
            with code.block(f"for _j in range({self.n_pre}):"):
                with code.block(f"for _k in range({ptr}[_j], {ptr}[_j + 1]):"):
                    code.line(f"_i = {rows}[_k]")
                    body(code)

    def csr_loop(self, code: Code, body, test: str | None = None) -> None:
        """The pairs of post neuron `_i` (CSR order: increasing `_j`), with their storage position `_k`."""
        indptr, indices = self.sparse_arrays()
        order = self.csr_to_csc()
        with code.block(f"for _r in range({indptr}[_i], {indptr}[_i + 1]):"):
            code.line(f"_j = {indices}[_r]")
            block = code.block(f"if {test}:") if test else None
            if block:
                block.__enter__()
            code.line(f"_k = {order}[_r]")
            body(code)
            if block:
                block.__exit__(None, None, None)

    def sparse_arrays(self) -> tuple[str, str]:
        indptr, indices = self.plan.sparse_names(self.c)
        return self.array("indptr", indptr), self.array("indices", indices)

    def csc_arrays(self) -> tuple[str, str]:
        """Column index of a sparse connection: pre neuron j's pairs are the storage positions
        ptr[j]:ptr[j+1], their post neurons csc_row[ptr[j]:ptr[j+1]] in increasing order."""
        n, c = self.c.name, self.c
        return (self.internal("_csc_ptr", (c.n_pre + 1,), "int64"),
                self.internal("_csc_row", (f"nnz:{n}",), "int64"))

    def csr_to_csc(self) -> str:
        """Storage position of the pair at each CSR position."""
        return self.internal("_csr_to_csc", (f"nnz:{self.c.name}",), "int64")

    def internal(self, role: str, shape: tuple, dtype: str) -> str:
        """A scratch/index array of this connection (module name `_<C><role>`)."""
        return self.array(role, self.plan.internal_array(f"_{self.c.name}{role}", shape, dtype))


def fixed_type(state: StatePlan) -> ValueType | None:
    return state.fixed
