"""The language's built-ins as sympy functions that every backend printer knows.

Booleans are numbers in the IR (0 or 1), so spikes take part in arithmetic as
the papers write them (`v * (1 - s)`). Comparisons and logic are therefore
ordinary unevaluated functions, not sympy relationals, which cannot be
multiplied. Stochastic functions carry their stream number as the last
argument (see snnlang.ir.rng).
"""

from __future__ import annotations

import sympy


class _Op(sympy.Function):
    """An unevaluated function with a fixed number of arguments."""

    nargs: int | tuple[int, ...] = 1

    @classmethod
    def eval(cls, *args):  # never fold: backends print these as they are
        return None


def _op(name: str, nargs, doc: str, *, bool_result: bool = False) -> type:
    cls = type(name, (_Op,), {"nargs": nargs, "__doc__": doc, "bool_result": bool_result})
    # pickle finds a class by its name in this module (the IR cache pickles expressions),
    # and some classes are bound to another name below (Heaviside -> `Heaviside1`)
    globals().setdefault(name, cls)
    return cls


# comparisons and logic: results are 0.0 or 1.0
Gt = _op("Gt", 2, "a > b", bool_result=True)
Ge = _op("Ge", 2, "a >= b", bool_result=True)
Lt = _op("Lt", 2, "a < b", bool_result=True)
Le = _op("Le", 2, "a <= b", bool_result=True)
Eq = _op("Eq", 2, "a == b", bool_result=True)
Ne = _op("Ne", 2, "a != b", bool_result=True)
And = _op("And", 2, "a and b", bool_result=True)
Or = _op("Or", 2, "a or b", bool_result=True)
Xor = _op("Xor", 2, "a xor b", bool_result=True)
Not = _op("Not", 1, "not a", bool_result=True)
Where = _op("Where", 3, "b if c else d")

# numeric helpers sympy lacks in the form we want
Clip = _op("Clip", 3, "clip(x, lo, hi)")
Relu = _op("Relu", 1, "max(x, 0)")
Heaviside = _op("Heaviside1", 1, "1 if x > 0 else 0")
Sigmoid = _op("Sigmoid", 1, "1 / (1 + exp(-x))")
Round = _op("RoundNearest", 1, "round half to even")

# randomness: (args..., stream)
Bernoulli = _op("Bernoulli", 2, "1 with probability p (p, stream)", bool_result=True)
Uniform = _op("Uniform", 1, "uniform on [0,1) (stream)")
Normal = _op("Normal", 1, "standard normal (stream)")
Poisson = _op("PoissonCount", 2, "Poisson count (mean, stream)")

# population-level: a value per neuron computed from the whole population
Softmax = _op("Softmax", 1, "softmax over the population")
Categorical = _op("Categorical", 2, "one-hot draw over the population (p, stream)", bool_result=True)
Wta = _op("Wta", 1, "one-hot of the population's arg-max", bool_result=True)
PopSum = _op("PopSum", 1, "sum over the population")
PopMean = _op("PopMean", 1, "mean over the population")
PopMax = _op("PopMax", 1, "max over the population")
PopMin = _op("PopMin", 1, "min over the population")

# initialisers: (stream); fan_in/fan_out are symbols the backend binds per connection
KaimingUniform = _op("KaimingUniform", 1, "U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (stream)")
XavierUniform = _op("XavierUniform", 1, "U(-a, a), a = sqrt(6/(fan_in+fan_out)) (stream)")

POPULATION_FUNCTIONS = (Softmax, Categorical, Wta, PopSum, PopMean, PopMax, PopMin)
STOCHASTIC_FUNCTIONS = (Bernoulli, Uniform, Normal, Poisson, Categorical, KaimingUniform, XavierUniform)

COMPARISONS = {">": Gt, ">=": Ge, "<": Lt, "<=": Le, "==": Eq, "!=": Ne}
LOGIC = {"and": And, "or": Or, "xor": Xor}

# language name -> how to build the sympy expression from converted arguments
SIMPLE = {
    "exp": sympy.exp, "log": sympy.log, "sin": sympy.sin, "cos": sympy.cos, "tanh": sympy.tanh,
    "sqrt": sympy.sqrt, "abs": sympy.Abs, "sign": sympy.sign, "floor": sympy.floor,
    "ceil": sympy.ceiling, "round": Round, "min": sympy.Min, "max": sympy.Max, "clip": Clip,
    "relu": Relu, "heaviside": Heaviside, "sigmoid": Sigmoid, "softmax": Softmax, "wta": Wta,
    "popsum": PopSum, "popmean": PopMean, "popmax": PopMax, "popmin": PopMin,
}
STOCHASTIC = {"bernoulli": Bernoulli, "poisson": Poisson, "categorical": Categorical,
              "kaiming_uniform": KaimingUniform, "xavier_uniform": XavierUniform}
