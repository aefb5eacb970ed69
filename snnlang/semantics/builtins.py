"""Built-in functions, encoders, connectivities and names, as a table.

Each entry says where it may be used, how many arguments it takes and how the
dimension and type of its result follow from its arguments. The checker
interprets the `rule` tags; later stages look up the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

# where a function may appear
DYN = "dynamics"      # neuron and synapse expressions (per neuron / per connection)
NET = "network"       # readout and metric expressions
INIT = "init"         # `init w = ...` in a connect block


@dataclass(frozen=True)
class Builtin:
    name: str
    min_args: int
    max_args: int
    rule: str
    contexts: frozenset[str]
    doc: str
    stochastic: bool = False
    population: bool = False  # reduces over / couples the whole population


def _b(name, lo, hi, rule, contexts, doc, **kw) -> Builtin:
    return Builtin(name, lo, hi, rule, frozenset(contexts), doc, **kw)


# rule tags:
#   dimless      arguments dimensionless, result dimensionless float
#   same         arguments share one dimension, result has it
#   first        result has the dimension of the first argument
#   sqrt         result dimension is the square root of the argument's
#   sign         any argument, dimensionless result
#   bool_p       argument dimensionless (a probability), boolean result
#   count        argument dimensionless (a mean count), dimensionless integer result
#   rand         zero args: dimensionless in [0,1) (or standard normal); two args: same as args
#   matrix_*     network-level matrix functions
FUNCTIONS: dict[str, Builtin] = {b.name: b for b in [
    _b("exp", 1, 1, "dimless", [DYN, NET], "e to the power x"),
    _b("log", 1, 1, "dimless", [DYN, NET], "natural logarithm"),
    _b("sin", 1, 1, "dimless", [DYN], "sine"),
    _b("cos", 1, 1, "dimless", [DYN], "cosine"),
    _b("tanh", 1, 1, "dimless", [DYN], "hyperbolic tangent"),
    _b("sigmoid", 1, 1, "dimless", [DYN], "logistic function 1/(1+exp(-x))"),
    _b("heaviside", 1, 1, "sign", [DYN], "1 where x > 0, else 0"),
    _b("sqrt", 1, 1, "sqrt", [DYN, NET], "square root"),
    _b("abs", 1, 1, "same", [DYN, NET], "absolute value"),
    _b("sign", 1, 1, "sign", [DYN], "-1, 0 or 1"),
    _b("floor", 1, 1, "same", [DYN], "round down"),
    _b("ceil", 1, 1, "same", [DYN], "round up"),
    _b("round", 1, 1, "same", [DYN], "round to nearest"),
    _b("relu", 1, 1, "same", [DYN], "max(x, 0)"),
    _b("min", 2, 2, "same", [DYN, NET], "smaller of two values"),
    _b("max", 2, 2, "same", [DYN, NET], "larger of two values"),
    _b("clip", 3, 3, "same", [DYN, INIT], "x limited to [lo, hi]"),
    # randomness: a pure function of (seed, stream, step, index) in every backend
    _b("bernoulli", 1, 1, "bool_p", [DYN], "true with probability p", stochastic=True),
    _b("uniform", 0, 2, "rand", [DYN, INIT], "uniform on [0,1) or [lo,hi)", stochastic=True),
    _b("normal", 0, 2, "rand", [DYN, INIT], "normal: standard, or (mean, sd)", stochastic=True),
    _b("poisson", 1, 1, "count", [DYN], "Poisson count with the given mean", stochastic=True),
    # population-level: one value per neuron computed from the whole population
    _b("softmax", 1, 1, "dimless", [DYN], "exp(x_i) / sum_j exp(x_j) over the population",
       population=True),
    _b("categorical", 1, 1, "bool_p", [DYN],
       "one neuron of the population, drawn with probability proportional to p, is true",
       stochastic=True, population=True),
    _b("wta", 1, 1, "bool_any", [DYN], "winner-take-all: true for the largest x (lowest index on ties)",
       population=True),
    _b("popsum", 1, 1, "same", [DYN, NET], "sum over the population", population=True),
    _b("popmean", 1, 1, "same", [DYN, NET], "mean over the population", population=True),
    _b("popmax", 1, 1, "same", [DYN, NET], "maximum over the population", population=True),
    _b("popmin", 1, 1, "same", [DYN, NET], "minimum over the population", population=True),
    # network level
    _b("argmax", 1, 1, "index", [NET], "index of the largest element (the predicted class)"),
    _b("transpose", 1, 1, "matrix_same", [NET], "transpose of a connection's matrix"),
    _b("angle", 2, 2, "matrix_angle", [NET], "angle in degrees between two matrices"),
    _b("norm", 1, 1, "matrix_same", [NET], "Frobenius norm"),
    # initialisers
    _b("kaiming_uniform", 0, 0, "dimless", [INIT], "U(-1/sqrt(fan_in), 1/sqrt(fan_in))",
       stochastic=True),
    _b("xavier_uniform", 0, 0, "dimless", [INIT], "U(-a, a), a = sqrt(6/(fan_in+fan_out))",
       stochastic=True),
]}


@dataclass(frozen=True)
class Encoder:
    name: str
    kwargs: frozenset[str]
    doc: str


# `input x = ENCODER(size, ...)`: how data become spikes
ENCODERS: dict[str, Encoder] = {e.name: e for e in [
    Encoder("poisson", frozenset({"rate", "gain"}),
            "spike with probability gain*x per step (x = intensity in [0,1]); "
            "with `rate`, a data-free Poisson source"),
    Encoder("bernoulli", frozenset({"p", "gain"}),
            "spike with probability gain*x per step; with `p`, data-free noise"),
    Encoder("regular", frozenset({"gain"}),
            "integrate gain*x each step and spike at 1 (subtractive reset): deterministic rate code"),
    Encoder("latency", frozenset({"window"}),
            "one spike per input, earlier for larger x, within `window` steps"),
    Encoder("events", frozenset({"polarity"}),
            "event-camera stream binned into one frame per step (N-MNIST)"),
]}

LABEL_ENCODERS: dict[str, Encoder] = {
    "onehot": Encoder("onehot", frozenset({"rate"}),
                      "the label as a population: neuron y is on every step (or at `rate`)"),
}

# `connect ... with S(CONNECTIVITY)`
CONNECTIVITIES: dict[str, frozenset[str]] = {
    "dense": frozenset(),
    "all_to_all": frozenset(),
    "one_to_one": frozenset(),
    "sparse": frozenset({"p"}),
}

SOLVERS = ("exact", "exponential_euler", "rk4", "euler")
# the derivative of a smooth step of the given width, as backends/torch/ops.Surrogate defines it
SURROGATES = ("fast_sigmoid", "sigmoid", "rectangular")

FIXED_OPTIONS: dict[str, frozenset[str] | None] = {
    "scale": None,  # a positive constant expression
    "round": frozenset({"nearest", "floor", "stochastic"}),
    "overflow": frozenset({"saturate", "wrap"}),
    "signed": frozenset({"true", "false"}),
}

SCALAR_TYPES = ("float32", "float64", "bool", "int")

BATCH_MODES = ("sum", "mean")

# names every neuron and synapse expression can read
IMPLICIT_NAMES = {
    "t": "time since the start of the run",
    "dt": "the simulation time step",
}
