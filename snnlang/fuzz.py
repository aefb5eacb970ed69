"""A fuzzer of the whole pipeline: generated model files go through `snnc check`, then, when
they check clean, lowering and a backend build, then a run of a few steps, as a user would.

No input, however broken, may end in anything but a result or a diagnostic: an exception
other than `snnlang.errors.UserError` (a traceback), a diagnostic code snnlang does not
define, a run that does not finish within the timeout, or a worker that dies, is a failure.

Inputs come from a fixed seed; input `i` depends only on (seed, i), so any one of them can be
regenerated alone (`--only i`). The families:

- mutant:    token-level mutations (delete, insert a grammar literal or the file's own token,
             swap, truncate, sprinkle bytes/unicode) of the shipped models, the invalid-model
             examples of the tests and the templates below;
- extreme:   a valid template with 1-3 numeric slots (sizes, dt, rates, time constants,
             weights, durations, delays, probabilities, exponents, thresholds, phase lengths)
             set to huge, tiny, negative, zero, non-finite or malformed values;
- structure: deep nesting of parentheses, calls and ifs, long sums, many definitions,
             thousands of unknown names, long lines, hostile imports;
- encoding:  a valid model with NUL bytes, CRLF, tabs, a BOM, invalid UTF-8, fullwidth
             digits, lookalike or zero-width characters.

Each input runs in a worker process (restarted after a hang or a crash) under a memory limit,
with an in-process alarm (which yields the traceback of where it hung) and a hard timeout
in the parent. `scripts/fuzz.py` is the command line; docs/fuzzing.md explains both.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import random
import re
import signal
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

ROOT = Path(__file__).resolve().parents[1]

OK, DIAGNOSTIC, INTERNAL, HANG, CRASH = "ok", "diagnostic", "internal", "hang", "crash"
FAILURES = (INTERNAL, HANG, CRASH)
STAGES = ("check", "build", "run")

# ------------------------------------------------------------------------------------ templates

UNITS_TEMPLATE = '''\
"""Fuzz template: LIF with units and a static synapse."""

neuron LIF:
    param tau_m = {tau}
    param v_rest = -65 mV
    param v_th = {v_th}
    param R = {resistance}
    param t_ref = {t_ref}
    state v = v_rest
    input I_syn: nA
    dv/dt = (v_rest - v + R * I_syn) / tau_m{solver}
    spike when v > v_th:
        v = v_rest
    refractory t_ref
    trace rate: mean spike / dt

synapse Static:
    state w = {weight}
    on pre:
        post.I_syn += w

network net:
    input x = poisson({n_in}, rate = {rate})
    layer out = LIF({n_out})
    connect S: x -> out with Static({connectivity}):
        init w = uniform({w_lo}, {w_hi})
        delay {delay}
    metric mean_rate = popmean(out.rate)
    timestep {dt}
    simulate {duration} at dt = {dt}
'''

UNITS_DEFAULTS = {
    "tau": "20 ms", "v_th": "-50 mV", "resistance": "100 MOhm", "t_ref": "2 ms", "solver": "",
    "weight": "0.5 nA", "n_in": "20", "rate": "20 Hz", "n_out": "10", "connectivity": "dense",
    "w_lo": "0 nA", "w_hi": "1 nA", "delay": "1", "dt": "0.1 ms", "duration": "1 ms",
}
UNITS_SLOTS = {  # slot -> the unit its values carry ("" for a bare number)
    "tau": "ms", "v_th": "mV", "resistance": "MOhm", "t_ref": "ms", "weight": "nA", "n_in": "",
    "rate": "Hz", "n_out": "", "w_lo": "nA", "w_hi": "nA", "delay": "", "dt": "ms", "duration": "ms",
}

UNIT_FREE_TEMPLATE = '''\
"""Fuzz template: unit-free two-layer network with traces, fixed point and a schedule."""

neuron Cell:
    param theta = {theta}
    param leak = {leak}
    input I
    state v = 0
    state q: fixed<{bits}, scale = 2^{scale_exp}, round = stochastic> = 0
    v <- leak * v * (1 - spike) + I{drive}
    spike when v > theta:
        v -= theta
    trace n: sum on spike += 1
    trace r: decay {decay} on spike += 1
    trace m: mean spike

synapse Hebb:
    param lr = {lr}
    state w = 0
    on pre:
        post.I += w
    on post:
        w = clip(w + lr * pre.spike ** {power}, -1, 1)

network demo:
    param T = {steps}
    input x = bernoulli({n_in}, p = {p})
    label y = onehot({classes})
    layer h = Cell({n_hidden})
    layer o = Cell({classes})
    connect W1: x -> h with Hebb({connectivity}):
        init w = uniform(0, {w_hi})
    connect W2: h -> o with Hebb(dense, lr = {lr2})
    readout argmax(o.n)
    metric size = norm(W2.w)
    schedule:
        phase train(T):
            active x, W1, W2
            plastic W1, W2
            reset all
        phase sleep({sleep}) every {every} samples
        infer train
'''

UNIT_FREE_DEFAULTS = {
    "theta": "0.5", "leak": "0.75", "bits": "8", "scale_exp": "-6", "decay": "0.5", "lr": "0.01",
    "power": "2", "steps": "5", "n_in": "16", "p": "0.2", "classes": "4", "n_hidden": "8",
    "connectivity": "sparse(p = 0.5)", "w_hi": "0.3", "lr2": "0.02", "sleep": "2", "every": "10", "drive": "",
}
UNIT_FREE_SLOTS = {k: "" for k in UNIT_FREE_DEFAULTS if k not in ("connectivity", "drive")}

# terms added to an update: constants the checker can fold are refused there, but these
# involve state, so they reach lowering (sympy may fold `v / 0` into zoo), the backends and the run
DYNAMIC_TERMS = (
    " + v / 0", " + I / 0", " / 0", " * 0 / 0", " + log(v - v)", " + log(0 * v)", " + sqrt(-1 - v * v)",
    " + exp(1e6 * v)", " + v ** -1", " + 1 / (v - v)", " + 0 ** -1", " + (v - v) ** 0", " + tanh(1e308 * v)",
    " + sigmoid(-1e308 * v)", " + max(v, 1e308) * 1e308", " + floor(1e300 * v)", " + abs(v) ** 0.5",
    " + (-1) ** 0.5", " + uniform(1, 0)", " + normal(0, -1)", " + poisson(-1)", " + bernoulli(2)",
    " + heaviside(v / 0)", " + v % 0", " + min(v, 0 / 0)", " + clip(v, 1, -1)", " + 1e308 * 1e308 * v",
)

TEMPLATES = (("units", UNITS_TEMPLATE, UNITS_DEFAULTS, UNITS_SLOTS),
             ("unit_free", UNIT_FREE_TEMPLATE, UNIT_FREE_DEFAULTS, UNIT_FREE_SLOTS))

# numbers no slot should choke on: huge, tiny, negative, zero, non-finite, malformed
EXTREME_NUMBERS = (
    "0", "-0", "0.0", "-1", "-0.5", "1", "2", "1e999", "-1e999", "1e-999", "1e308", "1.8e308", "1e-308",
    "5e-324", "1e309", "1e300", "1e-300", "1e100", "1e20", "1e9", "1000000000", "4294967296",
    "18446744073709551616", "9" * 400, "0." + "0" * 400 + "1", "2 ** 100000", "2 ** 1023", "2 ** 1024",
    "10 ** 10 ** 10", "10 ** 400", "2 ** -1080", "(-8) ** (1/3)", "1/0", "0/0", "-1/0", "1 % 0", "log(0)",
    "log(-1)", "sqrt(-1)", "exp(1000)", "exp(-1000)", "nan", "inf", "-inf", "NaN", "Infinity",
    "１０", "٣", "1_000", "0x10", "1e", ".5", "5.", "1..2", "1e+", "- -1", "+1", "3.", "1/3",
    "0.1 + 0.2", "(((1)))", "-(1e999)", "1e999 - 1e999", "1e999 * 0", "max(1e999, -1e999)",
    "abs(-1e999)", "floor(1e300)", "round(2.5)", "1e-320 * 1e-10",
)
EXTREME_UNITS = ("", " ms", " s", " us", " Hz", " kHz", " mV", " nA", " pA", " Ohm", " GOhm", " m", " steps",
                 " ms * ms", " / ms", " Hz * s", " mV / ms")

_TOKEN = re.compile(r'"""[\s\S]*?"""|"[^"\n]*"|#[^\n]*|\r?\n[ \t]*|[ \t]+|\d+\.?\d*(?:[eE][+-]?\d+)?|'
                    r'[A-Za-z_]\w*|<-|->|\*\*|[<>=!+\-*/]=|.', re.S)


def tokenize(text: str) -> list[str]:
    """The front end's tokens, roughly (strings, comments, layout, numbers, names, operators)."""
    return _TOKEN.findall(text)


@lru_cache(maxsize=1)
def grammar_literals() -> tuple[str, ...]:
    """Every keyword and punctuation literal of the grammar, plus layout tokens."""
    from snnlang.syntax.parser import grammar_text
    words = set(re.findall(r'"([^"\\]+)"', grammar_text()))
    words = {w for w in words if not any(c in w for c in "[^|?")}
    return tuple(sorted(words | {"\n", "\n    ", "\n        ", "\t", "    ", '"', '"""', "#", "\\\n", "\r\n"}))


def seed_models(root: Path = ROOT) -> list[tuple[str, str]]:
    """(name, text) of every model to mutate: the templates, the shipped models, the tests'
    invalid-model examples and the fuzz corpus, in a fixed order."""
    seeds = [(f"template_{name}.snn", text.format(**defaults)) for name, text, defaults, _ in TEMPLATES]
    for folder in ("models", "examples", "tests/invalid", "tests/fuzz/corpus"):
        base = root / folder
        for path in sorted(base.rglob("*.snn")) if base.is_dir() else ():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                seeds.append((str(path.relative_to(root)), path.read_text(encoding="utf-8")))
    return seeds


# ----------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class FuzzInput:
    """One generated model file: `index` and the seed regenerate it, `family`/`how` say how."""

    index: int
    family: str
    how: str
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class Generator:
    """Input `i` of seed `s`, from a random.Random seeded by the string "s:i"."""

    FAMILIES = (("mutant", 45), ("extreme", 30), ("structure", 13), ("encoding", 12))

    def __init__(self, seed: int = 0, root: Path = ROOT) -> None:
        self.seed = seed
        self.seeds = seed_models(root)
        self.tokens = {name: tokenize(text) for name, text in self.seeds}
        self.literals = grammar_literals()

    def __call__(self, index: int) -> FuzzInput:
        rng = random.Random(f"snnlang-fuzz:{self.seed}:{index}")
        families, weights = zip(*self.FAMILIES)
        family = rng.choices(families, weights)[0]
        how, data = getattr(self, f"_{family}")(rng)
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        return FuzzInput(index, family, how, data)

    def inputs(self, count: int, start: int = 0) -> Iterator[FuzzInput]:
        for index in range(start, start + count):
            yield self(index)

    # -- families

    def _mutant(self, rng: random.Random) -> tuple[str, str]:
        # mostly valid seeds: their mutants get past the checker into lowering, build and run
        valid = [s for s in self.seeds if not s[0].startswith("tests/invalid/")]
        name, _ = rng.choice(valid if rng.random() < 0.75 else self.seeds)
        tokens = list(self.tokens[name])
        ops = []
        for _ in range(rng.randint(1, 4)):
            op = rng.choice(("delete", "insert", "insert_own", "swap", "truncate", "chars", "duplicate",
                             "number", "number"))
            ops.append(op)
            n = len(tokens)
            if n == 0:
                tokens = [rng.choice(self.literals)]
                continue
            i = rng.randrange(n)
            numbers = [k for k, tok in enumerate(tokens) if tok[:1].isdigit()] if op == "number" else []
            if numbers:  # a number of a shipped model set to a hostile one: deep into its numeric slots
                tokens[rng.choice(numbers)] = rng.choice(EXTREME_NUMBERS)
            elif op == "delete":
                del tokens[i:i + rng.randint(1, 3)]
            elif op == "insert":
                tokens.insert(i, rng.choice(self.literals))
            elif op == "insert_own":
                tokens.insert(i, rng.choice(self.tokens[name]))
            elif op == "swap":
                j = rng.randrange(n)
                tokens[i], tokens[j] = tokens[j], tokens[i]
            elif op == "truncate":
                text = "".join(tokens)
                tokens = tokenize(text[:rng.randint(0, len(text))])
            elif op == "duplicate":
                j = min(n, i + rng.randint(1, 30))
                tokens[i:i] = tokens[i:j]
            else:
                tok = tokens[i]
                k = rng.randint(0, len(tok))
                tokens[i] = tok[:k] + _random_chars(rng) + tok[k:]
        return f"{name}: {', '.join(ops)}", "".join(tokens)

    def _extreme(self, rng: random.Random) -> tuple[str, str]:
        name, template, defaults, slots = rng.choice(TEMPLATES)
        values = dict(defaults)
        changed = []
        for slot in rng.sample(sorted(slots), rng.choice((1, 1, 1, 2, 3))):
            number = rng.choice(EXTREME_NUMBERS)
            unit = slots[slot] if rng.random() < 0.85 else rng.choice(EXTREME_UNITS).strip()
            value = f"{number} {unit}".strip() if unit else number
            values[slot] = value
            changed.append(f"{slot} = {value}")
        if name == "unit_free" and rng.random() < 0.3:
            values["drive"] = rng.choice(DYNAMIC_TERMS)
            changed.append(f"v <- ...{values['drive']}")
        if name == "units" and rng.random() < 0.2:
            values["solver"] = rng.choice(("   using exact", "   using rk4", "   using euler",
                                           "   using exponential_euler"))
        if rng.random() < 0.15:
            values["connectivity"] = rng.choice(("one_to_one", "all_to_all", "sparse(p = 0)", "sparse(p = 1e-300)",
                                                 "sparse(p = 1)", "sparse(p = 2)", "sparse(p = -1)",
                                                 "sparse(p = 1e999)", "sparse(p = 0/0)"))
            changed.append(f"connectivity = {values['connectivity']}")
        return f"{name}: {'; '.join(changed)}", template.format(**values)

    def _structure(self, rng: random.Random) -> tuple[str, str]:
        kind = rng.choice(STRUCTURES)
        n = rng.choice((10, 100, 250, 330, 490, 1000, 3000))
        if kind == "many_layers":  # lowering a chain of 250 layers takes seconds: slow, not stuck
            n = min(n, 100)
        return f"{kind} x {n}", structure(kind, n, rng)

    def _encoding(self, rng: random.Random) -> tuple[str, str | bytes]:
        name, template, defaults, _ = rng.choice(TEMPLATES)
        text = template.format(**defaults)
        kind = rng.choice(("nul", "crlf", "cr", "tabs", "mixed_indent", "bom", "invalid_utf8", "fullwidth",
                           "lookalike", "zero_width", "rtl", "surrogate", "formfeed", "line_separator",
                           "unicode_identifier", "trailing_backslash"))
        return f"{name}: {kind}", mangle(kind, text, rng)


def _random_chars(rng: random.Random) -> str:
    pool = ("\x00", "\x7f", "\x80", "\xff", "\u00a0", "\u200b", "\u202e", "\ufeff", "\u2028", "\uff10", "\u0661",
            "\U0001d7ce", "é", "µ", "Ω", "π", "\t", "\r", "\\", '"', "'", "{", "}", "$", "`", "\U0001f600")
    return "".join(rng.choice(pool) for _ in range(rng.randint(1, 3)))


_NEURON_HEAD = "neuron N:\n    input I\n    state v = 0\n"
_SYNAPSE = "\nsynapse S:\n    state w = 0.5\n    on pre:\n        post.I += w\n"
_NETWORK_TAIL = ("\nnetwork net:\n    input x = bernoulli(4, p = 0.5)\n    layer a = N(3)\n"
                 "    connect x -> a with S(dense)\n    simulate 3\n")


def structure(kind: str, n: int, rng: random.Random | None = None) -> str:
    """A model whose shape, not its values, is extreme: `n` levels of nesting, terms, names...
    With a small `n` each is a valid model (tests/fuzz checks that), so a failure at a large `n`
    is about the size."""
    rng = rng or random.Random(n)
    synapse = _SYNAPSE
    update = "    v <- 0.5 * v + I\n"
    if kind == "parens":
        update = f"    v <- {'(' * n}v{')' * n} * 0.5 + I\n"
    elif kind == "calls":
        update = f"    v <- {'abs(' * n}v{')' * n} * 0.5 + I\n"
    elif kind == "ifs":
        lines, indent = ["    every step:\n"], 8
        for k in range(n):
            lines.append(" " * indent + f"if w > {k}:\n")
            indent += 1  # one more space per level keeps a deep file small
        lines.append(" " * indent + "w = 0\n")
        synapse += "".join(lines)
    elif kind == "sum":
        update = f"    v <- {' + '.join(['v'] * n)} + I\n"
    elif kind == "product":
        update = f"    v <- {' * '.join(['v'] * n)} + I\n"
    elif kind == "power":
        update = f"    v <- {' ** '.join(['2'] * min(n, 60))} * v + I\n"
    elif kind == "unknown_names":
        update = f"    v <- {' + '.join(f'unknown_{k}' for k in range(n))}\n"
    elif kind == "definitions":
        return "".join(f"neuron N{k}:\n    input I\n    state v = 0\n    v <- v + I\n\n" for k in range(n))
    elif kind == "long_line":
        update = f"    v <- v + I{' + 0' * (n * 20)}\n"
    elif kind == "imports":
        targets = ["/etc/passwd", "/dev/zero", "/dev/urandom", "/proc/self/mem", "../" * 20 + "etc/passwd",
                   "", ".", "..", "\x00", "a" * 5000, "lif.snn", "input.snn", "*", "~/.ssh/id_rsa",
                   "http://example.com/x.snn", "C:\\\\x.snn", "/dev/stdin", "/" * 300]
        lines = [f'import "{rng.choice(targets)}"\n' for _ in range(min(n, 20))]
        lines += [f'from "{rng.choice(targets)}" import N\n' for _ in range(min(n, 5))]
        return "".join(lines) + "\n" + _NEURON_HEAD + update + "    spike when v > 1\n" + synapse + _NETWORK_TAIL
    elif kind == "many_errors":
        return "".join(f"neuron N{k}:\n    param a = )\n    state v = unknown\n" for k in range(n))
    elif kind == "deep_indent":
        return "".join(" " * k + "neuron N:\n" for k in range(n))
    elif kind == "long_name":
        name = "n" * (n * 100)
        return f"neuron {name}:\n    input I\n    state v = 0\n    v <- v + I\n"
    elif kind == "many_layers":
        layers = "".join(f"    layer l{k} = N(2)\n" for k in range(n))
        conns = "".join(f"    connect l{k} -> l{k + 1} with S(dense)\n" for k in range(n - 1))
        return (_NEURON_HEAD + update + "    spike when v > 1\n" + synapse + "\nnetwork net:\n"
                + "    input x = bernoulli(2, p = 0.5)\n    connect x -> l0 with S(dense)\n"
                + layers + conns + "    simulate 3\n")
    else:
        raise ValueError(kind)
    return _NEURON_HEAD + update + "    spike when v > 1\n" + synapse + _NETWORK_TAIL


STRUCTURES = ("parens", "calls", "ifs", "sum", "product", "power", "unknown_names", "definitions", "long_line",
              "imports", "many_errors", "deep_indent", "long_name", "many_layers")


_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_LOOKALIKE = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х"})  # Cyrillic


def mangle(kind: str, text: str, rng: random.Random | None = None) -> str | bytes:
    """`text` with one encoding-level hazard: stray bytes, line endings, lookalike characters..."""
    rng = rng or random.Random(kind)
    lines = text.split("\n")
    k = rng.randrange(len(lines))
    if kind == "nul":
        pos = rng.randrange(len(text) + 1)
        return text[:pos] + "\x00" + text[pos:]
    if kind == "crlf":
        return text.replace("\n", "\r\n")
    if kind == "cr":
        return text.replace("\n", "\r")
    if kind == "tabs":
        return text.replace("    ", "\t")
    if kind == "mixed_indent":
        lines[k] = lines[k].replace("    ", "\t", 1)
        return "\n".join(lines)
    if kind == "bom":
        return "\ufeff" + text
    if kind == "invalid_utf8":
        raw = text.encode()
        pos = rng.randrange(len(raw) + 1)
        return raw[:pos] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80")) + raw[pos:]
    if kind == "fullwidth":
        lines[k] = lines[k].translate(_FULLWIDTH)
        return "\n".join(lines)
    if kind == "lookalike":
        lines[k] = lines[k].translate(_LOOKALIKE)
        return "\n".join(lines)
    if kind == "zero_width":
        pos = rng.randrange(len(text) + 1)
        return text[:pos] + "\u200b" + text[pos:]
    if kind == "rtl":
        lines[k] = "\u202e" + lines[k]
        return "\n".join(lines)
    if kind == "surrogate":
        pos = rng.randrange(len(text) + 1)
        return text[:pos] + "\ud800" + text[pos:]
    if kind == "formfeed":
        lines[k] = "\x0c" + lines[k]
        return "\n".join(lines)
    if kind == "line_separator":
        return text.replace("\n", "\u2028", rng.randint(1, 5))
    if kind == "unicode_identifier":
        return text.replace("theta", "θ").replace("tau_m", "τ_m").replace("leak", "λ")
    if kind == "trailing_backslash":
        lines[k] += "\\"
        return "\n".join(lines)
    raise ValueError(kind)


# ------------------------------------------------------------------------------------ pipeline


@dataclass
class Outcome:
    """What one input did. `signature` groups failures of one cause (the exception type and the
    innermost snnlang function, or the stage that hung); `detail` is the traceback or message."""

    status: str
    stage: str = ""
    signature: str = ""
    detail: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


class _Alarm(BaseException):
    """Raised by SIGALRM inside a worker: a BaseException so that no `except Exception` in the
    code under test swallows it."""


def _innermost(tb_frames: list[traceback.FrameSummary]) -> str:
    for frame in reversed(tb_frames):
        parts = Path(frame.filename).parts
        if parts[-1] == "fuzz.py":  # the harness itself (the alarm handler) is never the cause
            continue
        if "snnlang" in parts or "backends" in parts or "snnlang_backends" in parts:
            rel = "/".join(parts[-2:])
            return f"{rel}:{frame.name}"
    return f"{Path(tb_frames[-1].filename).name}:{tb_frames[-1].name}" if tb_frames else "?"


def _signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{type(exc).__name__} at {_innermost(frames)}"


def _network_names(result) -> list[str]:
    module = getattr(result, "module", None)
    if module is None:
        return []
    return [d.name for d in module.definitions if type(d).__name__ == "NetworkDef"]


def run_pipeline(path: Path, target: str = "reference", max_steps: int = 5, on_stage: Callable[[str], None] | None = None,
                 log: io.StringIO | None = None) -> Outcome:
    """`snnc check PATH`; if clean, compile its first network for `target` and `snnc run` it for
    at most `max_steps` steps. Exceptions, UserError included, propagate to `classify`."""
    from snnlang import cli
    from snnlang.diagnostics import CODES
    from snnlang.runtime.compile import compile_model

    on_stage = on_stage or (lambda stage: None)
    log = log if log is not None else io.StringIO()
    parser = cli.build_parser()
    seen = []
    original = cli.check_path

    def recording_check(p):
        result = original(p)
        seen.append(result)
        return result

    on_stage("check")
    cli.check_path = recording_check  # to read the diagnostics `snnc check` printed
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            args = parser.parse_args(["check", str(path)])
            code = args.func(args)
    finally:
        cli.check_path = original
    result = seen[0] if seen else None
    if result is not None:
        unknown = sorted({d.code for d in result.diagnostics if d.code not in CODES})
        if unknown:
            return Outcome(INTERNAL, "check", f"unknown diagnostic code {unknown[0]}",
                           f"`snnc check` reported codes snnlang does not define: {unknown}\n{log.getvalue()}")
    printed = _printed_traceback(log, "check")
    if printed is not None:
        return printed
    if code != 0:
        return Outcome(DIAGNOSTIC, "check", f"check exit {code}", log.getvalue()[-2000:])
    networks = _network_names(result)
    if not networks:
        return Outcome(OK, "check", "no network")
    network = networks[0]
    on_stage("build")
    model = compile_model(str(path), target=target, network=network, seed=0, batch=1)  # UserError: classify's
    sim = model.network.simulate_steps
    steps = None if isinstance(sim, int) and 0 <= sim <= max_steps else max_steps
    del model
    on_stage("run")
    argv = ["run", str(path), "--target", target, "--network", network]
    if steps is not None:
        argv += ["--steps", str(steps)]
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        args = parser.parse_args(argv)
        code = args.func(args)
    if code != 0:
        return Outcome(DIAGNOSTIC, "run", f"run exit {code}", log.getvalue()[-2000:])
    return _printed_traceback(log, "run") or Outcome(OK, "run")


def _printed_traceback(log: io.StringIO, stage: str) -> Outcome | None:
    """INTERNAL when a stage printed a traceback instead of raising (a user sees it all the same)."""
    text = log.getvalue()
    if "Traceback (most recent call last)" not in text:
        return None
    return Outcome(INTERNAL, stage, f"traceback printed in {stage}", text[-3000:])


def classify(path: Path, target: str, max_steps: int, timeout: float,
             on_stage: Callable[[str], None] | None = None) -> Outcome:
    """`run_pipeline` with every exception sorted into DIAGNOSTIC (a UserError that escaped to
    the guard of `snnc`, which prints it as one message) or INTERNAL, and the alarm into HANG."""
    from snnlang.errors import UserError

    stage = ["check"]

    def note(s: str) -> None:
        stage[0] = s
        if on_stage is not None:
            on_stage(s)

    def alarm(signum, frame):
        raise _Alarm()

    start = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, alarm) if timeout else None
    if timeout:
        signal.setitimer(signal.ITIMER_REAL, timeout)
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = run_pipeline(path, target, max_steps, note)
    except _Alarm as exc:
        outcome = Outcome(HANG, stage[0], f"hang in {stage[0]} at {_innermost(traceback.extract_tb(exc.__traceback__))}",
                          f"no result after {timeout:g} s; where it was:\n{traceback.format_exc()}")
    except UserError as exc:
        outcome = Outcome(DIAGNOSTIC, stage[0], type(exc).__name__, str(exc)[-2000:])
        if not str(exc).strip():  # `snnc` would print a bare "snnc: " and nothing to act on
            outcome = Outcome(INTERNAL, stage[0], f"{_signature(exc)} with an empty message", traceback.format_exc())
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - everything else (SystemExit too) is what the fuzzer hunts
        outcome = Outcome(INTERNAL, stage[0], _signature(exc), traceback.format_exc())
    finally:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    outcome.seconds = time.perf_counter() - start
    outcome.warnings = sorted({f"{w.category.__name__}: {w.message}"[:200] for w in caught})
    return outcome


# -------------------------------------------------------------------------------------- workers


def _limit_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    try:
        import resource
        limit = megabytes * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _worker(conn, workdir: str, target: str, max_steps: int, timeout: float, memory_mb: int) -> None:
    """Serve inputs from `conn` until it closes: ("input", index, bytes) -> ("stage", s)*, ("done", outcome)."""
    os.environ["SNNLANG_CACHE_DIR"] = str(Path(workdir) / "cache")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(workdir) / "numba"))
    # the compiler's own memory estimate refuses a network that cannot fit (a diagnostic);
    # it is set well below the worker's hard limit because backends allocate temporaries the
    # estimate leaves out, so that hitting the hard limit (a MemoryError) means a real misestimate
    if memory_mb > 0:
        os.environ["SNNLANG_MEMORY_LIMIT"] = f"{max(memory_mb // 4, 64)}MiB"
    _limit_memory(memory_mb)
    path = Path(workdir) / "input.snn"
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        _, index, data = message
        path.write_bytes(data)
        outcome = classify(path, target, max_steps, timeout, lambda s: conn.send(("stage", s)))
        conn.send(("done", asdict(outcome)))


# inputs one worker serves before it is replaced (a fork of the preloaded server: cheap)
RECYCLE_AFTER = 100
# how long past its own alarm a worker may take to answer before it is killed: the alarm cannot
# interrupt a long computation in C (a huge integer power), only the kill can
_GRACE_S = 3.0


class Runner:
    """Runs inputs one at a time in a worker process; restarts it after a hang or a crash."""

    def __init__(self, target: str = "reference", max_steps: int = 5, timeout: float = 10.0,
                 memory_mb: int = 3072, root: Path = ROOT) -> None:
        self.target, self.max_steps, self.timeout, self.memory_mb = target, max_steps, timeout, memory_mb
        self._tmp = tempfile.TemporaryDirectory(prefix="snnlang-fuzz-")
        self.workdir = Path(self._tmp.name)
        # the models an input may import by name (`import "lif.snn"`) sit next to it
        for model in sorted((root / "models").glob("*.snn")) if (root / "models").is_dir() else ():
            (self.workdir / model.name).write_bytes(model.read_bytes())
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            self._ctx.set_forkserver_preload(["snnlang.fuzz", "snnlang.cli", "snnlang.runtime.compile"])
        self._proc = None
        self._conn = None
        self._served = 0

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker, args=(child, str(self.workdir), self.target, self.max_steps,
                                                             self.timeout, self.memory_mb), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def _stop(self) -> None:
        if self._proc is not None and self._proc.pid is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def run(self, data: bytes, index: int = -1) -> Outcome:
        """The outcome of one input; a hard timeout of `timeout` + _GRACE_S backs the worker's alarm."""
        if self._served >= RECYCLE_AFTER:  # a fresh worker: caches grown by earlier inputs slow later ones
            self._retire()
        if self._proc is None or not self._proc.is_alive():
            self._start()
            self._served = 0
        self._served += 1
        stage = "start"
        start = time.perf_counter()
        deadline = start + (self.timeout + _GRACE_S if self.timeout else 1e9)
        try:
            self._conn.send(("input", index, data))
            while True:
                left = deadline - time.perf_counter()
                if left <= 0:
                    self._stop()
                    return Outcome(HANG, stage, f"hang in {stage} (killed)",
                                   f"the worker did not answer within {self.timeout + _GRACE_S:g} s (a loop in C code "
                                   "that the alarm could not interrupt) and was killed", time.perf_counter() - start)
                if not self._conn.poll(min(left, 1.0)):
                    continue
                kind, payload = self._conn.recv()
                if kind == "stage":
                    stage = payload
                else:
                    return Outcome(**payload)
        except (EOFError, OSError, BrokenPipeError):
            code = self._proc.exitcode if self._proc is not None else None
            self._proc.join(5) if self._proc is not None else None
            code = self._proc.exitcode if self._proc is not None else code
            self._stop()
            why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            return Outcome(CRASH, stage, f"worker died in {stage} ({why})",
                           f"the worker process died ({why}): a segfault, stack overflow in C, or the "
                           f"memory limit ({self.memory_mb} MiB) hit outside Python", time.perf_counter() - start)

    def _retire(self) -> None:
        """Ask the worker to exit (it is idle), then stop it."""
        if self._conn is not None:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._conn.send(None)
            if self._proc is not None and self._proc.pid is not None:
                self._proc.join(2)
        self._stop()

    def close(self) -> None:
        self._retire()
        self._tmp.cleanup()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------ reduction


def _chunks_removed(units: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(units), size):
        yield units[:start] + units[start + size:]


def _word_units(text: str) -> list[str]:
    """Tokens with the blanks after them attached, so that reducing never glues two words into
    one (`network net` into `networknet`), which a reader would take for a typo."""
    units: list[str] = []
    for tok in tokenize(text):
        if units and tok.strip(" \t") == "" and not units[-1].endswith("\n"):
            units[-1] += tok
        else:
            units.append(tok)
    return units


def minimize(data: bytes, still_fails: Callable[[bytes], bool], budget_s: float = 60.0,
             max_tries: int = 300) -> bytes:
    """A smaller input that still fails the same way: delete chunks of lines, then of tokens,
    halving the chunk size (ddmin-style), until nothing more can go or the budget is spent."""
    deadline = time.perf_counter() + budget_s
    tries = 0
    text = data.decode("utf-8", "surrogateescape")
    for split, join in ((lambda t: t.splitlines(keepends=True), "".join), (_word_units, "".join)):
        units = split(text)
        size = max(1, len(units) // 2)
        while size >= 1 and len(units) > 1:
            progress = False
            for candidate in _chunks_removed(units, size):
                if tries >= max_tries or time.perf_counter() > deadline:
                    return join(units).encode("utf-8", "surrogateescape")
                tries += 1
                if still_fails(join(candidate).encode("utf-8", "surrogateescape")):
                    units, progress = candidate, True
                    break
            if not progress:
                size //= 2
        text = join(units)
    return text.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------- a run


@dataclass
class Failure:
    index: int
    family: str
    how: str
    outcome: Outcome
    data: bytes


@dataclass
class Report:
    """Counts per status, failures grouped by signature, and the slowest inputs."""

    seed: int
    count: int
    statuses: dict[str, int] = field(default_factory=dict)
    classes: dict[str, list[Failure]] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    slowest: list[tuple[float, int, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        return sum(self.statuses.get(s, 0) for s in FAILURES)

    def add(self, item: FuzzInput, outcome: Outcome) -> None:
        self.statuses[outcome.status] = self.statuses.get(outcome.status, 0) + 1
        for w in outcome.warnings:
            self.warnings[w] = self.warnings.get(w, 0) + 1
        self.slowest = sorted(self.slowest + [(outcome.seconds, item.index, item.how)], reverse=True)[:5]
        if outcome.status in FAILURES:
            self.classes.setdefault(f"{outcome.status}: {outcome.signature}", []).append(
                Failure(item.index, item.family, item.how, outcome, item.data))

    def summary(self) -> str:
        lines = [f"fuzz: seed {self.seed}, {self.count} inputs in {self.seconds:.0f} s: "
                 + ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))]
        if self.classes:
            lines.append(f"{len(self.classes)} failure classes:")
            for name, items in sorted(self.classes.items(), key=lambda kv: -len(kv[1])):
                first = min(items, key=lambda f: len(f.data))
                lines.append(f"  {len(items):5d} x {name}  (e.g. input {first.index}: {first.family}, {first.how[:80]})")
        else:
            lines.append("no internal errors, no hangs, no crashes")
        if self.warnings:
            lines.append(f"{len(self.warnings)} distinct Python warnings (not failures), most frequent:")
            for w, n in sorted(self.warnings.items(), key=lambda kv: -kv[1])[:5]:
                lines.append(f"  {n:5d} x {w[:120]}")
        lines.append("slowest: " + ", ".join(f"input {i} {s:.1f} s" for s, i, _ in self.slowest))
        return "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:80].strip("_") or "failure"


def write_failures(report: Report, out: Path, runner: Runner | None = None, minimize_budget_s: float = 60.0) -> None:
    """OUT/<class>/input-<i>.snn + .txt (the traceback) for every failure, and per class the
    smallest input reduced to `minimal.snn` (when a runner is given) and `summary.json`."""
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for name, items in sorted(report.classes.items()):
        folder = out / _slug(name)
        folder.mkdir(exist_ok=True)
        for f in items[:20]:
            (folder / f"input-{f.index}.snn").write_bytes(f.data)
            (folder / f"input-{f.index}.txt").write_text(
                f"{name}\ninput {f.index} (seed {report.seed}, {f.family}: {f.how})\nstage {f.outcome.stage}\n\n"
                f"{f.outcome.detail}", encoding="utf-8", errors="replace")
        smallest = min(items, key=lambda f: len(f.data))
        minimal = smallest.data
        if runner is not None and smallest.outcome.status != CRASH:
            status, signature = smallest.outcome.status, smallest.outcome.signature
            hang = status == HANG
            minimal = minimize(smallest.data,
                               lambda d: (lambda o: o.status == status and (hang or o.signature == signature))(
                                   runner.run(d)),
                               budget_s=minimize_budget_s, max_tries=12 if hang else 300)
        (folder / "minimal.snn").write_bytes(minimal)
        index.append({"class": name, "count": len(items), "inputs": [f.index for f in items],
                      "minimal": str((folder / "minimal.snn").relative_to(out)),
                      "detail": smallest.outcome.detail[-3000:]})
    (out / "summary.json").write_text(json.dumps(
        {"seed": report.seed, "count": report.count, "statuses": report.statuses, "classes": index,
         "warnings": report.warnings, "seconds": report.seconds}, indent=2), encoding="utf-8")
    (out / "summary.txt").write_text(report.summary() + "\n", encoding="utf-8")


def fuzz(count: int, seed: int = 0, start: int = 0, timeout: float = 10.0, target: str = "reference",
         max_steps: int = 5, memory_mb: int = 3072, extra: Iterable[tuple[str, bytes]] = (),
         progress: Callable[[int, FuzzInput, Outcome], None] | None = None,
         runner: Runner | None = None) -> Report:
    """Run `count` generated inputs (and `extra` (name, bytes) inputs first) and report."""
    report = Report(seed, 0)
    generator = Generator(seed)
    own = runner is None
    runner = runner or Runner(target, max_steps, timeout, memory_mb)
    began = time.perf_counter()
    try:
        items: list[FuzzInput] = [FuzzInput(-1 - k, "corpus", name, data) for k, (name, data) in enumerate(extra)]
        for item in [*items, *generator.inputs(count, start)]:
            outcome = runner.run(item.data, item.index)
            report.count += 1
            report.add(item, outcome)
            if progress is not None:
                progress(report.count, item, outcome)
    finally:
        report.seconds = time.perf_counter() - began
        if own:
            runner.close()
    return report
