"""What every generated Lava module imports: the IR's semantics in plain NumPy (no snnlang, no Lava).

A generated module (gen_module.py) holds the model-specific code -- expressions, statement
order, variable tables -- and calls into this file for everything generic. The definitions
follow the reference executor (backends/reference) line by line, so a custom process does the
same floating-point operations in the same order as the oracle:

  rng          the counter-based generator of snnlang/ir/rng.py (constants copied; a test
               checks that they agree)
  quantise     fixed-point writes (backends/reference/fixed.py)
  Domain       where an expression is evaluated: shape, RNG indices, seed, step; its methods are
               the IR built-ins (backends/reference/functions.py)
  Store        the arrays of one population or connection; `write` casts, quantises, masks
  Dense / OneToOne / Sparse   pair layouts (backends/reference/layouts.py)
  encode       input and label encoders (backends/reference/encoders.py)
  CONTROL      the layout of the `control` Var through which the host talks to a process

`snnc compile --target lava` copies this file into the package it writes, so the package needs
only NumPy and Lava.
"""

from __future__ import annotations

import math

import numpy

# ----------------------------------------------------------------- importing Lava


def prepare_lava_import() -> None:
    """Importing Lava runs `multiprocessing.set_start_method('fork')`, which raises "context has
    already been set" if anything fixed the start method before -- even a call of
    `multiprocessing.get_start_method()`. When the method is 'fork' already, that call is made
    harmless while Lava is imported; another method is an error that says so."""
    import multiprocessing
    import sys
    name = "lava.magma.runtime.message_infrastructure.multiprocessing"
    if name in sys.modules:
        return
    current = multiprocessing.get_start_method(allow_none=True)
    if current is None:
        return
    if current != "fork":
        raise RuntimeError(f"Lava runs its processes with multiprocessing's 'fork' start method, but this "
                           f"program already chose {current!r}; create the Lava network before choosing it, "
                           "or run Lava in a process of its own")
    original = multiprocessing.set_start_method

    def tolerant(method, force=False):
        if method != multiprocessing.get_start_method(allow_none=True) or force:
            original(method, force=force)

    multiprocessing.set_start_method = tolerant
    try:
        import importlib
        importlib.import_module(name)
    finally:
        multiprocessing.set_start_method = original


# ----------------------------------------------------------------- the RNG (snnlang/ir/rng.py)

MASK32 = 0xFFFFFFFF
MUL1 = 0x7FEB352D
MUL2 = 0x846CA68B
SALT_STREAM = 0x9E3779B9
SALT_STEP = 0x85EBCA6B
SALT_INDEX = 0xC2B2AE35
UNIFORM_BITS = 24
UNIFORM_SCALE = 1.0 / (1 << UNIFORM_BITS)
ENCODER_STREAM_BASE = 1 << 20
CONNECTIVITY_STREAM_BASE = 2 << 20
ROUNDING_STREAM_BASE = 3 << 20
INIT_STEP = 0


def hash32(x: int) -> int:
    x &= MASK32
    x ^= x >> 16
    x = (x * MUL1) & MASK32
    x ^= x >> 15
    x = (x * MUL2) & MASK32
    x ^= x >> 16
    return x


def _hash32_np(x):
    x = x & numpy.uint64(MASK32)
    x ^= x >> numpy.uint64(16)
    x = (x * numpy.uint64(MUL1)) & numpy.uint64(MASK32)
    x ^= x >> numpy.uint64(15)
    x = (x * numpy.uint64(MUL2)) & numpy.uint64(MASK32)
    x ^= x >> numpy.uint64(16)
    return x


def draw_bits(seed: int, stream: int, step: int, index):
    s = numpy.uint64(hash32(seed ^ hash32(stream * SALT_STREAM)))
    s = numpy.uint64(hash32(int(s) ^ hash32(step * SALT_STEP)))
    idx = numpy.asarray(index, dtype=numpy.uint64)
    return _hash32_np(s ^ _hash32_np((idx * numpy.uint64(SALT_INDEX)) & numpy.uint64(MASK32)))


def uniform(seed: int, stream: int, step: int, index):
    bits = draw_bits(seed, stream, step, index) >> numpy.uint64(32 - UNIFORM_BITS)
    return bits.astype(numpy.float64) * UNIFORM_SCALE


def normal(seed: int, stream: int, step: int, index):
    u1 = uniform(seed, 2 * stream + 0x10000, step, index)
    u2 = uniform(seed, 2 * stream + 0x10001, step, index)
    return numpy.sqrt(-2.0 * numpy.log1p(-u1)) * numpy.cos(2.0 * numpy.pi * u2)


def encoder_stream(population_index: int) -> int:
    return ENCODER_STREAM_BASE + population_index


def connectivity_stream(connection_index: int) -> int:
    return CONNECTIVITY_STREAM_BASE + connection_index


def rounding_stream(owner_index: int, var_index: int) -> int:
    return ROUNDING_STREAM_BASE + 256 * owner_index + var_index


def element_index(batch: int, per_row, row_stride: int):
    """RNG indices b * row_stride + per_row[...] for b in range(batch)."""
    per_row = numpy.asarray(per_row)
    b = numpy.arange(batch, dtype=numpy.uint64).reshape((batch,) + (1,) * per_row.ndim)
    return b * numpy.uint64(row_stride) + per_row.astype(numpy.uint64)[None]


# ----------------------------------------------------------------- fixed point


def quantise(value, fixed, u=None):
    """A write to `fixed<bits, scale, round, overflow, signed>`: fixed = (bits, scale, rounding,
    overflow, signed); signed codes saturate to +-(2^(bits-1) - 1), unsigned ones to [0, 2^bits - 1]."""
    bits, scale, rounding, overflow, signed = fixed
    value = numpy.asarray(value, dtype=numpy.float64)
    q = value / scale
    if rounding == "nearest":
        q = numpy.floor(q + 0.5)
    elif rounding == "floor":
        q = numpy.floor(q)
    elif rounding == "stochastic":
        q = numpy.floor(q + u)
    else:
        raise ValueError(f"unknown rounding mode {rounding!r}")
    hi = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1
    if overflow == "saturate":
        q = numpy.clip(q, -hi if signed else 0, hi)
    else:
        span = 2.0 ** bits
        half = 2.0 ** (bits - 1) if signed else 0.0
        q = numpy.mod(q + half, span) - half
    return q * scale


# ----------------------------------------------------------------- statements


def runs(phases, phase) -> bool:
    return not phases or (phase is not None and phase in phases)


def combine(op: str, old, value):
    if op == "=":
        return value
    with numpy.errstate(all="ignore"):
        if op == "+=":
            return old + value
        if op == "-=":
            return old - value
        if op == "*=":
            return old * value
        if op == "/=":
            return old / value
    raise ValueError(f"unknown assignment operator {op!r}")


def as_mask(value, shape):
    return numpy.broadcast_to(numpy.asarray(value) != 0, shape)


# ----------------------------------------------------------------- storage


class Store:
    """The arrays of one population or connection and how a write treats each of them.

    specs: name -> (fixed or None, stream or None, rounding index array). The arrays themselves
    are attached by the owner (a Lava ProcessModel passes its Var arrays, the host its copies).
    """

    def __init__(self, arrays: dict, specs: dict, seed: int) -> None:
        self.a = arrays
        self.specs = specs
        self.seed = seed

    def write(self, name: str, value, step: int, mask=None) -> None:
        array = self.a[name]
        value = numpy.broadcast_to(numpy.asarray(value), array.shape)
        fixed, stream, index = self.specs[name]
        if fixed is not None:
            u = uniform(self.seed, stream, step, index) if fixed[2] == "stochastic" else None
            value = quantise(value, fixed, u)
        if mask is None:
            array[...] = value
        else:
            array[...] = numpy.where(numpy.broadcast_to(mask, array.shape) != 0, value, array)


# ----------------------------------------------------------------- built-ins


def poisson_count(lam, u):
    """Inverse-CDF Poisson draw: the smallest k with CDF(k) > u (backends/reference/functions.py)."""
    lam = numpy.asarray(lam, dtype=numpy.float64)
    u = numpy.asarray(u, dtype=numpy.float64)
    lam, u = numpy.broadcast_arrays(lam, u)
    k = numpy.zeros(u.shape)
    positive = lam > 0
    safe = numpy.where(positive, lam, 1.0)
    log_lam = numpy.log(safe)
    cdf = numpy.where(positive, numpy.exp(-safe), 1.0)
    todo = positive & (cdf <= u)
    n = 0
    top = float(numpy.max(lam, initial=0.0))
    limit = int(top + 40.0 * math.sqrt(top) + 100.0)
    while numpy.any(todo) and n < limit:
        n += 1
        term = numpy.exp(-safe + n * log_lam - math.lgamma(n + 1))
        k = numpy.where(todo, n, k)
        cdf = cdf + term
        todo = todo & (cdf <= u)
    return k


def softmax(x):
    z = numpy.exp(x - numpy.max(x, axis=-1, keepdims=True))
    return z / numpy.sum(z, axis=-1, keepdims=True)


def one_hot_argmax(x):
    out = numpy.zeros(x.shape)
    numpy.put_along_axis(out, numpy.argmax(x, axis=-1)[..., None], 1.0, axis=-1)
    return out


def categorical(p, u):
    p = numpy.asarray(p, dtype=numpy.float64)
    with numpy.errstate(all="ignore"):
        c = numpy.cumsum(p / numpy.sum(p, axis=-1, keepdims=True), axis=-1)
    above = c > u[..., None]
    first = numpy.argmax(above, axis=-1)
    out = numpy.zeros(p.shape)
    numpy.put_along_axis(out, first[..., None], 1.0, axis=-1)
    return out * numpy.any(above, axis=-1, keepdims=True)


class Domain:
    """Where expressions are evaluated (backends/reference/evaluate.py): a population
    (batch, size), the pairs of a connection, one side of it, or its matrix at initialisation.
    The methods are the IR built-ins; generated code calls them as `D.Clip(...)`."""

    def __init__(self, shape, index, seed: int, dtype, population_axis: bool = False,
                 fan_in=None, fan_out=None) -> None:
        self.shape = tuple(shape)
        self.index = numpy.asarray(index, dtype=numpy.uint64)
        self.seed = int(seed)
        self.dt = numpy.dtype(dtype)
        self.population_axis = population_axis
        self.step = 0
        self.fan_in = fan_in
        self.fan_out = fan_out

    # ------------------------------------------------------------ helpers
    def full(self, value, shape=None):
        return numpy.array(numpy.broadcast_to(value, shape or self.shape), dtype=self.dt)

    def _flag(self, x):
        return numpy.asarray(x, dtype=self.dt)

    def _cast(self, x):
        return numpy.asarray(x, dtype=self.dt)

    def uniform(self, stream):
        return uniform(self.seed, int(stream), self.step, self.index).astype(self.dt)

    def _population(self, x):
        if not self.population_axis:
            raise ValueError("population function outside a neuron population")
        return numpy.broadcast_to(numpy.asarray(x, dtype=numpy.float64), self.shape)

    # ------------------------------------------------------------ comparisons and logic
    def Gt(self, a, b):
        return self._flag(numpy.greater(a, b))

    def Ge(self, a, b):
        return self._flag(numpy.greater_equal(a, b))

    def Lt(self, a, b):
        return self._flag(numpy.less(a, b))

    def Le(self, a, b):
        return self._flag(numpy.less_equal(a, b))

    def Eq(self, a, b):
        return self._flag(numpy.equal(a, b))

    def Ne(self, a, b):
        return self._flag(numpy.not_equal(a, b))

    def And(self, a, b):
        return self._flag((numpy.asarray(a) != 0) & (numpy.asarray(b) != 0))

    def Or(self, a, b):
        return self._flag((numpy.asarray(a) != 0) | (numpy.asarray(b) != 0))

    def Xor(self, a, b):
        return self._flag((numpy.asarray(a) != 0) ^ (numpy.asarray(b) != 0))

    def Not(self, a):
        return self._flag(~(numpy.asarray(a) != 0))

    def Where(self, c, a, b):
        return numpy.where(numpy.asarray(c) != 0, a, b)

    # ------------------------------------------------------------ numeric helpers
    def Clip(self, x, lo, hi):
        return numpy.minimum(numpy.maximum(x, lo), hi)

    def Relu(self, x):
        return numpy.maximum(x, 0)

    def Heaviside1(self, x):
        return self._flag(numpy.greater(x, 0))

    def Sigmoid(self, x):
        return 1 / (1 + numpy.exp(-x))

    def RoundNearest(self, x):
        return numpy.rint(x)

    # ------------------------------------------------------------ randomness
    def Bernoulli(self, p, s):
        return self._flag(self.uniform(s) < p)

    def Uniform(self, s):
        return self.uniform(s)

    def Normal(self, s):
        return normal(self.seed, int(s), self.step, self.index).astype(self.dt)

    def PoissonCount(self, lam, s):
        return self._cast(poisson_count(lam, self.uniform(s)))

    def KaimingUniform(self, s):
        u = self.uniform(s).astype(numpy.float64)
        return self._cast((2.0 * u - 1.0) / numpy.sqrt(self.fan_in))

    def XavierUniform(self, s):
        u = self.uniform(s).astype(numpy.float64)
        return self._cast((2.0 * u - 1.0) * numpy.sqrt(6.0 / (self.fan_in + self.fan_out)))

    # ------------------------------------------------------------ population functions
    def Softmax(self, x):
        return self._cast(softmax(self._population(x)))

    def Categorical(self, p, s):
        rows = numpy.arange(self.shape[0], dtype=numpy.uint64)
        u = uniform(self.seed, int(s), self.step, rows)
        return self._flag(categorical(self._population(p), u))

    def Wta(self, x):
        return self._flag(one_hot_argmax(self._population(x)))

    def PopSum(self, x):
        return self._cast(numpy.sum(self._population(x), axis=-1, keepdims=True))

    def PopMean(self, x):
        return self._cast(numpy.mean(self._population(x), axis=-1, keepdims=True))

    def PopMax(self, x):
        return self._cast(numpy.max(self._population(x), axis=-1, keepdims=True))

    def PopMin(self, x):
        return self._cast(numpy.min(self._population(x), axis=-1, keepdims=True))


# ----------------------------------------------------------------- layouts


class Dense:
    kind = "dense"

    def __init__(self, n_post: int, n_pre: int) -> None:
        self.n_post, self.n_pre = n_post, n_pre
        self.pair_shape = (n_post, n_pre)
        self.dense_index = numpy.arange(n_post * n_pre, dtype=numpy.uint64).reshape(self.pair_shape)
        self.fan_in = float(n_pre)
        self.fan_out = float(n_post)

    def pre(self, x):
        return x[..., None, :]

    def post(self, x):
        return x[..., :, None]

    def to_post(self, v):
        return v.sum(axis=-1)


class OneToOne:
    kind = "one_to_one"

    def __init__(self, n_post: int, n_pre: int) -> None:
        self.n_post, self.n_pre = n_post, n_pre
        self.pair_shape = (n_post,)
        i = numpy.arange(n_post, dtype=numpy.uint64)
        self.dense_index = i * numpy.uint64(n_pre) + i
        self.fan_in = 1.0
        self.fan_out = float(n_post)

    def pre(self, x):
        return x

    def post(self, x):
        return x

    def to_post(self, v):
        return v


class Sparse:
    kind = "sparse"

    def __init__(self, n_post: int, n_pre: int, indptr, indices) -> None:
        self.n_post, self.n_pre = n_post, n_pre
        self.indptr = numpy.asarray(indptr, dtype=numpy.int64)
        self.indices = numpy.asarray(indices, dtype=numpy.int64)
        self.rows = numpy.repeat(numpy.arange(n_post, dtype=numpy.int64), numpy.diff(self.indptr))
        self.pair_shape = (len(self.indices),)
        self.dense_index = self.rows.astype(numpy.uint64) * numpy.uint64(n_pre) + self.indices.astype(numpy.uint64)
        self.fan_in = numpy.diff(self.indptr).astype(numpy.float64)[self.rows]
        self.fan_out = float(n_post)

    @staticmethod
    def draw(n_post: int, n_pre: int, p: float, seed: int, connection_index: int):
        """(indptr, indices): mask[i, j] = u < p, stream connectivity_stream(c), step INIT_STEP."""
        u = uniform(seed, connectivity_stream(connection_index), INIT_STEP,
                    numpy.arange(n_post * n_pre, dtype=numpy.uint64)).reshape(n_post, n_pre)
        rows, cols = numpy.nonzero(u < p)
        indptr = numpy.concatenate([[0], numpy.cumsum(numpy.bincount(rows, minlength=n_post))])
        return indptr.astype(numpy.int64), cols.astype(numpy.int64)

    def pre(self, x):
        return x[..., self.indices]

    def post(self, x):
        return x[..., self.rows]

    def to_post(self, v):
        out = numpy.zeros(v.shape[:-1] + (self.n_post,), dtype=v.dtype)
        for b in numpy.ndindex(v.shape[:-1]):
            out[b] = numpy.bincount(self.rows, weights=v[b], minlength=self.n_post)
        return out


def layout(kind: str, n_post: int, n_pre: int, indptr=None, indices=None):
    if kind == "dense":
        return Dense(n_post, n_pre)
    if kind == "one_to_one":
        return OneToOne(n_post, n_pre)
    return Sparse(n_post, n_pre, indptr, indices)


# ----------------------------------------------------------------- encoders

REGULAR_THRESHOLD = 1 - 1e-9


def steps_of(value: float, dt: float, unit_free: bool) -> int:
    if unit_free or (value == int(value) and value >= 1):
        return int(round(value))
    return int(round(value / dt))


def encode(kind: str, encoder: str, options: dict, spike, accumulator, data, frames: int,
           step_in_phase: int, phase_steps: int, step: int, seed: int, stream: int, index,
           dt: float, unit_free: bool) -> None:
    """This step's spikes of an active input/label population into `spike` (in place)."""
    batch, size = spike.shape

    def probability(x):
        if "rate" in options:
            rate = options["rate"]
            return rate if unit_free else rate * dt
        if "p" in options:
            return options["p"]
        return options.get("gain", 1.0) * x

    if kind == "label":
        onehot = numpy.zeros((batch, size), dtype=bool)
        classes = numpy.asarray(data).reshape(batch).astype(numpy.int64)
        rows = numpy.nonzero((classes >= 0) & (classes < size))[0]
        onehot[rows, classes[rows]] = True
        if "rate" in options:
            onehot &= uniform(seed, stream, step, index) < probability(None)
        spike[...] = onehot
    elif encoder in ("poisson", "bernoulli"):
        spike[...] = uniform(seed, stream, step, index) < probability(data)
    elif encoder == "regular":
        accumulator += options.get("gain", 1.0) * data
        fired = accumulator >= REGULAR_THRESHOLD
        accumulator -= fired
        spike[...] = fired
    elif encoder == "latency":
        window = options.get("window")
        w = phase_steps if window is None else steps_of(window, dt, unit_free)
        with numpy.errstate(all="ignore"):
            when = numpy.floor((1.0 - data) * (w - 1))
        spike[...] = (data > 0) & (when == step_in_phase)
    elif encoder == "events":
        spike[...] = (data[:, step_in_phase] > 0) if step_in_phase < frames else False


# ----------------------------------------------------------------- the control Var

# control[k]: how the host talks to a custom process (set/get of one small Var)
CMD, STEP, PHASE, ACTIVE, PLASTIC, PHASE_START, PHASE_STEPS, FRAMES = range(8)
ERR_FLAG, ERR_STEP, ERR_VAR = 8, 9, 10
ERR_INDEX = 11                       # 3 slots: the first bad element's index
ARG = 14                             # the variable a DUMP / LOAD command is about
CONTROL_SIZE = 15
# commands (bits of control[CMD]), executed by the process as soon as the Var is set
RESET_STATES = 1       # every variable back to its initial value (a population's `reset`)
RESET_TRACES = 2       # a connection's traces and hidden counters (`reset all`)
RESET_SYN_STATES = 4   # a connection's states that are neither `init`-ialised nor the weights
DROP_DELAYED = 8       # deliveries waiting longer than the natural delay (the connection's own)
DROP_NATURAL = 16      # deliveries of a cycle-closing connection already "in" its target
DUMP = 32              # write variable ARG to the exchange folder (see below)
LOAD = 64              # read variable ARG from the exchange folder
# Lava's Var.get / Var.set move one element per message (a 100 x 784 matrix takes about a
# second); large arrays travel through .npy files in a folder the host owns instead.
EXCHANGE_MIN = 256     # elements from which an array goes through the exchange folder
DATA, PENDING = -1, -2 # ARG of the non-state arrays: an input's `data`, a connection's `pending`


def exchange_path(folder: str, owner: str, arg: int) -> str:
    return f"{folder}/{owner}.{arg}.npy"


ERROR_TEXT = 4000   # characters of a ProcessModel's traceback kept in its `failure` Var
FAILED = 2          # control[ERR_FLAG] when the process itself failed (a bug, not a NaN)


def encode_text(text: str) -> numpy.ndarray:
    codes = numpy.zeros(ERROR_TEXT)
    raw = text.encode("utf-8", "replace")[-ERROR_TEXT:]
    codes[:len(raw)] = numpy.frombuffer(raw, dtype=numpy.uint8)
    return codes


def decode_text(codes) -> str:
    raw = bytes(int(c) for c in numpy.asarray(codes) if c > 0)
    return raw.decode("utf-8", "replace")


def first_bad(arrays: dict, names) -> tuple[int, tuple[int, ...]] | None:
    """(position in `names`, index) of the first non-finite element, in that order."""
    for k, name in enumerate(names):
        array = arrays[name]
        finite = numpy.isfinite(array)
        if not finite.all():
            return k, tuple(int(i) for i in numpy.argwhere(~finite)[0])
    return None


def record_error(control, step: int, found) -> None:
    if found is None or control[ERR_FLAG] != 0:
        return
    var, index = found
    control[ERR_FLAG] = 1
    control[ERR_STEP] = step
    control[ERR_VAR] = var
    for k in range(3):
        control[ERR_INDEX + k] = index[k] if k < len(index) else -1
