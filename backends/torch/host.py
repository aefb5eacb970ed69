"""`TorchExecutable`: the Executable contract (snnlang/runtime/executable.py) on top of a
generated module (gen_module.py).

It owns the tensors (states S, constants K, index tensors X, pending deliveries Q) on one device,
calls the generated `step` once per time step, records, and checks for NaN/Inf.

NaN/Inf check: after a phase (and after its hooks) every state is checked at once (one device
sync per phase, not per step). If a value is bad, the phase is run again from the state it
started in, one step at a time with a check after each, and the first bad state in
`state_names()` order raises NumericalError(name, step, index) with the step counter left at
the bad step, as in the reference executor. Re-running gives the very same values because
every random draw is a function of (seed, stream, step, index). A value that becomes NaN and is
overwritten within the same phase call is therefore not reported (the reference checks every
step); states that keep a bad value, such as weights, always are.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from snnlang.ir import rng
from snnlang.runtime.executable import NumericalError

from . import ops
from .distributed import Reducer
from .plan import BuildError


@dataclass
class RunContext:
    """`G` of the generated functions (scope.py)."""

    dtype: torch.dtype
    device: torch.device
    batch: int
    seed: int
    R: Reducer
    surrogate: ops.Surrogate | None = None
    step: int = 0
    k: int = 0
    n_steps: int = 0
    phase: str | None = None
    active: frozenset = frozenset()
    plastic: frozenset = frozenset()
    data: dict = field(default_factory=dict)
    keys: list = field(default_factory=list)
    t: object = None
    row_updates: bool = True        # plasticity may update only the rows with events (ops.outer_change)


def resolve_device(device: str) -> torch.device:
    """`auto`: CUDA when available, else the CPU."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise BuildError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BuildError(f"device {device!r} asked for, but torch sees no CUDA device here; use device='auto'")
    return dev


class TorchExecutable:
    """A compiled network on one torch device (see the module docstring)."""

    def __init__(self, module, seed: int = 0, batch: int = 1, dtype: str = "float64", device: str = "auto",
                 reducer: Reducer | None = None, compile: bool = False, threads: int | None = 1) -> None:
        if dtype not in ("float32", "float64"):
            raise BuildError(f"dtype must be float32 or float64, not {dtype!r}")
        if batch < 1:
            raise BuildError("batch must be at least 1")
        self.m = m = module
        self.seed = int(seed) & rng.MASK32          # the RNG mixes the low 32 bits of the seed
        self.batch = int(batch)
        self.dtype = getattr(torch, dtype)
        self.device = resolve_device(device)
        self.R = reducer or Reducer(self.batch, m.BATCH_MODE, device=str(self.device))
        if self.R.batch != self.batch:
            raise BuildError(f"the reducer is for {self.R.batch} rows per process, the executable has {self.batch}")
        if threads is not None and int(threads) < 1:
            raise BuildError(f"threads={threads!r}: give a number of CPU threads >= 1 (or None for torch's setting)")
        self.threads = None if threads is None else int(threads)
        self.step = 0
        self.states = {st[0]: st for st in m.STATES}
        self.owners = set(m.POPULATIONS) | set(m.CONNECTIONS)
        self.params = {(owner, name): slot for owner, name, slot, _ in m.PARAMS}
        self.explicit = {slot: float(v) for _, _, slot, v in m.PARAMS if v is not None}
        self._sparse_layouts()
        self.S: dict[str, torch.Tensor] = {}
        for name, owner, kind, side, shape, explicit, *_rest in m.STATES:
            if _rest[-1] is None:
                self.S[name] = torch.zeros(self._shape(owner, shape), dtype=getattr(torch, explicit or dtype),
                                           device=self.device)
        self.X = {name: self._index(spec) for name, spec in m.INDICES.items()}
        self.Q: dict[str, list] = {c: [] for c in m.DELAYED}
        self.G = RunContext(self.dtype, self.device, self.batch, self.seed, self.R)
        self._checked = [st[0] for st in m.STATES if st[-1] is None]
        self._dirty: set[str] = set()
        self._derive()
        self._step_fn = m.step
        self._tensor_keys = bool(compile)
        if compile:
            # keys and t as tensors, and no data-dependent shapes: torch.compile would otherwise
            # specialise on every step's values
            self._step_fn = torch.compile(m.step, dynamic=False)
            self.G.row_updates = False
        self._begin(None)
        self._at_step()
        with torch.no_grad(), self.cpu_threads():
            for pop in m.POPULATIONS:
                getattr(m, f"reset_{pop}")(self.S, self.K, self.X, self.G, self.Q)
            for conn in m.CONNECTIONS:
                getattr(m, f"init_{conn}")(self.S, self.K, self.X, self.G, self.Q, 0)

    @contextmanager
    def cpu_threads(self):
        """torch's intra-op CPU threads while this executable runs (restored afterwards). One by
        default: a step is many small operations, and OpenMP's waiting threads slow down badly
        when another process shares the cores; more pay off for large batches on idle cores."""
        if self.threads is None:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    # ------------------------------------------------------------------ layout

    def _sparse_layouts(self) -> None:
        """Sparse masks drawn like the reference: u < p with the connectivity stream at INIT_STEP,
        element index i * N_pre + j; CSR in row order."""
        self.sparse: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for conn, (index, n_post, n_pre, p) in self.m.SPARSE.items():
            u = rng.uniform_np(self.seed, rng.connectivity_stream(index), rng.INIT_STEP,
                               np.arange(n_post * n_pre, dtype=np.uint64)).reshape(n_post, n_pre)
            rows, cols = np.nonzero(u < p)
            indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_post))]).astype(np.int64)
            self.sparse[conn] = (indptr, cols.astype(np.int64))

    def _shape(self, owner: str, shape) -> tuple[int, ...]:
        out = []
        for d in shape:
            if d == "B":
                out.append(self.batch)
            elif d == "nnz":
                out.append(len(self.sparse[owner][1]))
            else:
                out.append(int(d))
        return tuple(out)

    def _pairs(self, conn: str) -> tuple[np.ndarray, int, int]:
        """Every pair's dense index i * N_pre + j (pair shape), N_post, N_pre."""
        info = self.m.CONNECTION_SIZES[conn]
        layout, n_post, n_pre = info
        if layout == "dense":
            return np.arange(n_post * n_pre, dtype=np.int64).reshape(n_post, n_pre), n_post, n_pre
        if layout == "one_to_one":
            i = np.arange(n_post, dtype=np.int64)
            return i * n_pre + i, n_post, n_pre
        indptr, cols = self.sparse[conn]
        rows = np.repeat(np.arange(n_post, dtype=np.int64), np.diff(indptr))
        return rows * n_pre + cols, n_post, n_pre

    def _index(self, spec: tuple) -> torch.Tensor:
        dev = self.device
        rows = torch.arange(self.batch, dtype=torch.int64, device=dev) + self.R.offset
        kind = spec[0]
        if kind == "pop":
            n = spec[1]
            return ops.index_hash(rows[:, None] * n + torch.arange(n, dtype=torch.int64, device=dev))
        if kind == "rows":
            return ops.index_hash(rows)
        if kind == "arange":
            return torch.arange(spec[1], dtype=torch.int64, device=dev)
        if kind in ("zeros", "false"):
            return torch.zeros((self.batch, spec[1]), dtype=self.dtype if kind == "zeros" else torch.bool, device=dev)
        conn = spec[1]
        dense, n_post, n_pre = self._pairs(conn)
        dense_t = torch.as_tensor(dense, device=dev)
        if kind == "dense":
            return ops.index_hash(dense_t)
        if kind == "pairs":
            shape = (self.batch,) + (1,) * dense_t.dim()
            return ops.index_hash(rows.reshape(shape) * (n_post * n_pre) + dense_t)
        indptr, cols = self.sparse[conn]
        if kind == "csr":
            if spec[2] == "rows":
                return torch.as_tensor(np.repeat(np.arange(n_post), np.diff(indptr)), dtype=torch.int64, device=dev)
            return torch.as_tensor(cols, dtype=torch.int64, device=dev)
        if kind == "fan":
            fan_in = np.diff(indptr).astype(np.float64)[np.repeat(np.arange(n_post), np.diff(indptr))]
            value = {"fan_in": fan_in, "sqrt_fan_in": np.sqrt(fan_in),
                     "xavier": np.sqrt(6.0 / (fan_in + float(n_post)))}[spec[2]]
            return torch.as_tensor(value, dtype=torch.float64, device=dev)
        raise BuildError(f"unknown index tensor {spec!r}")  # pragma: no cover - generator and host agree

    # ------------------------------------------------------------------ arrays

    def state_names(self) -> list[str]:
        return list(self.m.STATE_NAMES)

    def _state(self, name: str):
        if name not in self.states:
            raise KeyError(f"no state `{name}` (states: {', '.join(self.state_names())})")
        return self.states[name]

    def _sparse_state(self, name: str):
        owner, _, what = name.rpartition(".")
        if owner in self.sparse and what in ("indptr", "indices"):
            return self.sparse[owner][0 if what == "indptr" else 1]
        return None

    def tensor(self, name: str) -> torch.Tensor:
        """The live tensor of a state (a transposed view for a tied variable)."""
        st = self._state(name)
        tie = st[-1]
        if tie is None:
            return self.S[name]
        original = self.S[tie[0]]
        return original.transpose(0, 1) if tie[1] else original

    def get(self, name: str) -> np.ndarray:
        sparse = self._sparse_state(name)
        if sparse is not None:
            return sparse.copy()
        return self.tensor(name).detach().cpu().numpy().copy()

    def set(self, name: str, value) -> None:
        sparse = self._sparse_state(name)
        if sparse is not None:
            if not np.array_equal(np.asarray(value), sparse):
                raise ValueError(f"`{name}`: the sparse connectivity is fixed when the network is built")
            return
        st = self._state(name)
        view = self.tensor(name)
        value = np.asarray(value)
        if value.shape != tuple(view.shape):
            raise ValueError(f"`{name}` has shape {tuple(view.shape)}, got {value.shape}")
        target = st
        if st[-1] is not None:          # through a tie: write the original, in its layout
            target = self.states[st[-1][0]]
            value = value.T if st[-1][1] else value
        self.S[target[0]] = self._quantised(target, torch.as_tensor(np.ascontiguousarray(value), device=self.device))
        self._dirty.add(target[0])

    def _quantised(self, st, value: torch.Tensor) -> torch.Tensor:
        name, owner, kind, side, shape, explicit, fixed, stream, rindex, tie = st
        dtype = getattr(torch, explicit) if explicit else self.dtype
        if fixed is None:
            return value.to(dtype).clone()
        u = None
        if fixed[1] == 2:
            u = ops.uniform(ops.key(self.seed, stream, self.step), self.X[rindex], torch.float64)
        return ops.quantise(value.to(torch.float64), *fixed, u=u).to(dtype)

    # ------------------------------------------------------------------ parameters

    def _slot(self, owner: str, name: str) -> int:
        if owner not in self.owners:
            raise KeyError(f"no population or connection `{owner}`")
        if (owner, name) not in self.params:
            names = [n for (o, n) in self.params if o == owner]
            raise KeyError(f"{owner} has no parameter `{name}` (it has: {', '.join(names) or 'none'})")
        return self.params[(owner, name)]

    def _derive(self) -> None:
        self.values = self.m.derive_params(self.explicit)
        self.K = self._constants(self.m)
        self._other_K = {}      # constants of other modules of this network (the bptt mode), lazily

    def _constants(self, module) -> tuple:
        constants = module.derive_constants(self.values)
        if constants:
            return tuple(torch.tensor(constants, dtype=self.dtype, device=self.device).unbind())
        return ()

    def constants_for(self, module) -> tuple:
        """The constants tuple K of `module`: each generated module (exact, bptt) numbers the
        constants its code reads itself, so a second module of the network needs its own K."""
        if module is self.m:
            return self.K
        if id(module) not in self._other_K:
            self._other_K[id(module)] = self._constants(module)
        return self._other_K[id(module)]

    def get_param(self, owner: str, name: str) -> float:
        return float(self.values[self._slot(owner, name)])

    def set_param(self, owner: str, name: str, value: float) -> None:
        """Takes effect at the next step; the generated code reads parameters from K."""
        self.explicit[self._slot(owner, name)] = float(value)
        self._derive()

    # ------------------------------------------------------------------ resets

    def reset(self, owners=None) -> None:
        """None: every population completely, every connection's traces, hidden counters and
        pending deliveries. Named: those populations; those connections with their states too
        (not the `init`-initialised or tied ones: the weights are kept)."""
        if owners is not None:
            for name in owners:
                if name not in self.owners:
                    raise KeyError(f"no population or connection `{name}`")
        self._begin(None)
        self._at_step()
        m = self.m
        with torch.no_grad(), self.cpu_threads():
            for pop in m.POPULATIONS:
                if owners is None or pop in owners:
                    getattr(m, f"reset_{pop}")(self.S, self.K, self.X, self.G, self.Q)
            for conn in m.CONNECTIONS:
                if owners is None or conn in owners:
                    getattr(m, f"init_{conn}")(self.S, self.K, self.X, self.G, self.Q, 1 if owners is None else 2)

    # ------------------------------------------------------------------ running

    def _begin(self, run, data: dict | None = None) -> None:
        """What stays the same for a whole `run_phase` call (or a reset: no phase)."""
        G = self.G
        if run is None:
            G.phase, G.active, G.plastic, G.k, G.n_steps = None, frozenset(), frozenset(), 0, 0
            if not self._tensor_keys:
                G.data = {}
            return
        names = set(self.m.CONNECTIONS) | {d[0] for d in self.m.DATA}
        G.phase = run.phase
        G.active = frozenset(names) if run.active is None else frozenset(run.active)
        G.plastic = frozenset(self.m.CONNECTIONS) if run.plastic is None else frozenset(run.plastic)
        if self._tensor_keys:
            # torch.compile: the same keys in every phase (an inactive input keeps its last
            # tensor, unread); a key that vanished made dynamo's recompile check raise KeyError
            G.data = {**G.data, **(data or {})}
        else:
            G.data = data or {}
        G.n_steps = int(run.steps)

    def _at_step(self) -> None:
        """The per-step part of the context: the step, its RNG keys, t."""
        G = self.G
        G.step = self.step
        G.keys = [ops.key(self.seed, s, self.step) for s in self.m.STREAMS]
        if self._tensor_keys and G.keys:
            G.keys = list(torch.tensor(G.keys, dtype=torch.int64, device=self.device).unbind())
        if self.m.NEEDS_T:
            G.t = torch.tensor(self.step * self.values[0], dtype=self.dtype, device=self.device)

    def _data(self, run) -> dict[str, torch.Tensor]:
        given = dict(run.data or {})
        known = {d[0] for d in self.m.DATA}
        unknown = set(given) - known
        if unknown:
            raise KeyError(f"data for unknown input/label populations: {sorted(unknown)}")
        out = {}
        for pop, kind, encoder, size, needs in self.m.DATA:
            if run.active is not None and pop not in run.active:
                continue
            value = given.get(pop)
            if value is None:
                if needs:
                    raise ValueError(f"{kind} `{pop}` ({encoder}) is active but got no data")
                continue
            out[pop] = self._shape_data(pop, kind, encoder, size, value)
        return out

    def _shape_data(self, pop: str, kind: str, encoder: str, size: int, value) -> torch.Tensor:
        b = self.batch
        value = np.asarray(value)
        try:
            if kind == "label":
                array = np.array(np.broadcast_to(value, (b,)), dtype=np.int64)
            elif encoder == "events":
                if value.ndim != 3 or value.shape[0] != b or value.shape[2] != size:
                    raise ValueError
                array = np.asarray(value, dtype=np.float64)
            else:
                array = np.array(np.broadcast_to(value, (b, size)), dtype=np.float64)
        except ValueError:
            want = {"label": "(batch,) classes"}.get(kind, "(batch, frames, size) events" if encoder == "events"
                                                      else "(batch, size) intensities")
            raise ValueError(f"{kind} `{pop}`: data of shape {value.shape} is not {want} with batch {b}, "
                             f"size {size}") from None
        return torch.as_tensor(array, device=self.device)

    def _hooks(self, edge: str, run) -> None:
        fn = self.m.HOOKS.get((edge, run.phase)) if run.phase is not None else None
        if fn is None:
            return
        self._at_step()
        getattr(self.m, fn)(self.S, self.K, self.X, self.G, self.Q)
        self._check(raise_error=True)

    def _first_bad(self):
        for name in self._checked:
            bad = ~torch.isfinite(self.S[name])
            if bool(bad.any()):
                return name, tuple(int(i) for i in torch.nonzero(bad)[0])
        return None

    def _suspects(self) -> list[str]:
        """The states a phase can have made non-finite: all but the weights (per-pair states) of
        connections that were not plastic, unless `set` wrote them."""
        plastic = self.G.plastic
        return [n for n in self._checked
                if n in self._dirty or not (self.states[n][2] == "state" and self.states[n][3] == "syn"
                                            and self.states[n][1] not in plastic)]

    def _check(self, raise_error: bool) -> bool:
        """True if every state is finite; else raise NumericalError or return False. One device
        sync: the sum of a tensor is finite when all its elements are (a sum that overflows sends
        it to the element-wise check, which then finds nothing)."""
        names = self._suspects()
        self._dirty.clear()
        if not names:
            return True
        if bool(torch.isfinite(torch.stack([self.S[n].sum().to(torch.float64) for n in names])).all()):
            return True
        found = self._first_bad()
        if found is None:
            return True
        if raise_error:
            raise NumericalError(found[0], self.step, found[1])
        return False

    def _steps(self, run, steps: int, record: tuple[str, ...], frames: dict) -> None:
        G = self.G
        for k in range(steps):
            self._at_step()
            G.k = k
            self._step_fn(self.S, self.K, self.X, G, self.Q)
            for name in record:
                frames[name].append(self._frame(name))
            self.step += 1

    def _frame(self, name: str):
        sparse = self._sparse_state(name)
        if sparse is not None:
            return torch.as_tensor(sparse)
        return self.tensor(name).detach().clone()

    def run_phase(self, run) -> dict[str, np.ndarray]:
        """Run `run.steps` steps of phase `run.phase` (a `PhaseRun`); returns recordings (steps, *shape)."""
        record = tuple(run.record or ())
        for name in record:
            if self._sparse_state(name) is None:
                self._state(name)
        self._begin(run, self._data(run))
        with torch.no_grad(), self.cpu_threads():
            self._hooks("start", run)
            start = self._snapshot(run)
            frames = {name: [] for name in record}
            self._steps(run, int(run.steps), record, frames)
            if not self._check(raise_error=False):
                self._replay(run, start)
            self._hooks("end", run)
        out = {}
        for name in record:
            if frames[name]:
                out[name] = torch.stack(frames[name]).cpu().numpy()
            else:
                out[name] = np.zeros((0,) + self.get(name).shape, dtype=self.get(name).dtype)
        return out

    def run_differentiable(self, module, run) -> None:
        """Run a phase with `module` (the generated `bptt` mode) with autograd on: the states
        become functions of the trained weights. No recordings; the trainer checks the loss."""
        self._begin(run, self._data(run))
        K = self.constants_for(module)
        hooks = module.HOOKS if run.phase is not None else {}
        if ("start", run.phase) in hooks:
            self._at_step()
            getattr(module, hooks[("start", run.phase)])(self.S, K, self.X, self.G, self.Q)
        for k in range(int(run.steps)):
            self._at_step()
            self.G.k = k
            module.step(self.S, K, self.X, self.G, self.Q)
            self.step += 1
        if ("end", run.phase) in hooks:
            self._at_step()
            getattr(module, hooks[("end", run.phase)])(self.S, K, self.X, self.G, self.Q)

    def make_trainer(self, learning: str, extra: dict):
        """A trainer for `snnlang.compile(..., learning=...)` (bptt.py)."""
        from .bptt import make_trainer
        return make_trainer(self, learning, dict(extra))

    @property
    def data_parallel(self) -> tuple[int, int]:
        """(processes, this process's rank): the runtime gives each process its rows of a batch."""
        return self.R.world, self.R.rank

    def _snapshot(self, run):
        """What a replay starts from. Plasticity updates weights in place, so the per-pair states
        of connections that may learn in this phase are copied; everything else is rebound by the
        generated code and a reference suffices."""
        plastic = self.G.plastic
        S = {name: (t.clone() if self.states[name][1] in plastic and self.states[name][3] == "syn" else t)
             for name, t in self.S.items()}
        return S, {c: list(q) for c, q in self.Q.items()}, self.step

    def _replay(self, run, start) -> None:
        S, Q, step = start
        self.S = {name: t.clone() for name, t in S.items()}
        self.Q = {c: list(q) for c, q in Q.items()}
        self.step = step
        for k in range(int(run.steps)):
            self._at_step()
            self.G.k = k
            self.m.step(self.S, self.K, self.X, self.G, self.Q)
            found = self._first_bad()
            if found is not None:
                raise NumericalError(found[0], self.step, found[1])
            self.step += 1
        raise RuntimeError("a NaN/Inf seen after the phase did not reappear when it was run again; "
                           "please report this")  # pragma: no cover - the run is deterministic
