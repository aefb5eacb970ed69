"""Checkpoints: what `Model.save` and training write, what `snnlang.load` and `resume=` read.

A checkpoint is a zip of `.npy` arrays: `__meta__` (UTF-8 JSON: format, network, target,
options, step counter, samples seen, parameters, the model's source files) and `state:NAME`,
one per state. A training checkpoint adds `training` to the meta (epochs done, the history so
far, the shuffle generator's state, a fingerprint of the data) and, for a trainer with an
optimiser (BPTT), its accumulators as `optim:I:KEY` arrays.

A checkpoint is data from somewhere else, so reading one never unpickles anything (arrays
are read with allow_pickle=False, after their headers are checked), never writes a file name
it stores anywhere but inside a fresh temporary folder, and checks every entry against the
model (names, shapes, dtypes, finite values, nothing missing, nothing extra) before anything
is changed. Every problem is a `CheckpointError` that names the entry and says what to do.

Writes go to a temporary file next to the target, renamed over it once complete, so a crash
or a kill mid-write leaves the previous checkpoint intact. `Session` is what `Model.train` and
`fit` share: a checkpoint after every epoch and, on SIGINT/SIGTERM, a clean stop that keeps
the last completed epoch (`TrainingInterrupted`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import secrets
import signal
import tempfile
import threading
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from snnlang.errors import UserError

if TYPE_CHECKING:
    from snnlang.runtime.model import Model

FORMAT = 1
META = "__meta__"
OPTIONS = ("seed", "batch", "dtype", "device")
DTYPES = ("float32", "float64")
LOOPS = ("train", "fit")
_DAMAGED = ("it is damaged, truncated or not a snnlang checkpoint; write it again with "
            "Model.save or `snnc train --save`")
# file-name characters refused even where a file system allows them: generated code and
# messages quote file names, and none of these belongs in the name of a model file
_NAME_CHARS = set("\"'\\`")
_NAME_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


class CheckpointError(UserError):
    """A checkpoint that cannot be read or does not fit the model; the message says which entry."""


class TrainingInterrupted(UserError):
    """Training stopped by SIGINT/SIGTERM; `path` holds the last completed epoch (`epoch` of
    `epochs`), from which `resume=path` continues bit-exactly."""

    def __init__(self, path: Path, epoch: int, epochs: int, signum: int, history: list[dict],
                 loop: str) -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        call = "model.train" if loop == "train" else "fit"
        super().__init__(f"training stopped by {name} during epoch {epoch + 1} of {epochs}; the last "
                         f"completed epoch ({epoch}) is saved in `{path}`; continue with "
                         f"{call}(..., resume={str(path)!r})")
        self.path, self.epoch, self.epochs, self.signum, self.history = path, epoch, epochs, signum, history


@dataclass
class Checkpoint:
    """A checkpoint read and checked on its own (not yet against a model)."""

    path: Path
    meta: dict
    states: dict[str, np.ndarray]
    optim: dict[str, np.ndarray] = field(default_factory=dict)

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"checkpoint `{self.path}`: {what}")


@dataclass
class Progress:
    """Where a resumed training loop starts: epochs done, the history so far, loop extras."""

    epoch: int
    history: list[dict]
    rng: dict | None


# ------------------------------------------------------------------------------------ writing

def encode(model, training: dict | None = None) -> bytes:
    """The checkpoint of `model` as bytes (with `training`: a training checkpoint)."""
    from snnlang.runtime.model import _param_names
    params = {f"{owner}.{name}": float(model.exe.get_param(owner, name))
              for owner, names in _param_names(model.ir, model.network).items() for name in names}
    options = model.options
    meta: dict[str, Any] = {
        "format": FORMAT, "network": model.network.name, "target": model.target,
        "options": {"seed": options.seed, "batch": options.batch, "dtype": options.dtype,
                    "device": options.device},
        "step": int(model.exe.step), "samples_seen": int(model.samples_seen),
        "main": model.ir.file, "sources": dict(model.sources), "params": params,
        "network_params": {k: float(v) for k, v in model.network_params.values.items()}}
    arrays = {f"state:{name}": np.asarray(model.exe.get(name)) for name in model.exe.state_names()}
    if training is not None:
        meta["training"] = training
        optimizer = _optimizer(model)
        if optimizer is not None:
            meta["optimizer"], optim = _optimizer_state(optimizer)
            arrays.update(optim)
    buffer = io.BytesIO()
    blob = np.frombuffer(json.dumps(meta, default=_plain).encode(), dtype=np.uint8)
    np.savez(buffer, **{META: blob}, **arrays)
    return buffer.getvalue()


def write(path: str | Path, data: bytes) -> None:
    """Write checkpoint bytes atomically: the old file stays whole until the new one is."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"cannot write the checkpoint `{path}`: it is a directory; name a file")
    try:
        _replace(path, data)
    except OSError as exc:
        raise CheckpointError(f"cannot write the checkpoint `{path}`: {exc.strerror or exc}; the previous "
                              "file there, if any, is unchanged") from None


def _replace(path: Path, data: bytes) -> None:
    """Write a temporary file next to `path` and rename it over `path`. Unlike the cache's
    writer (private 0600 files), the file gets the permissions the umask gives a new file, as
    checkpoints are shared like any other output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save(model, path: str | Path) -> None:
    write(path, encode(model))


def _plain(value):
    """JSON for the NumPy scalars a history or an optimiser's settings may hold."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ------------------------------------------------------------------------------------ reading

def read(path: str | Path) -> Checkpoint:
    """Read a checkpoint and check it on its own; CheckpointError says what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"cannot read the checkpoint `{path}`: it is a directory; name the "
                              "checkpoint file inside it")
    try:
        data = path.read_bytes()
    except OSError as exc:
        why = "no such file" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
        raise CheckpointError(f"cannot read the checkpoint `{path}`: {why}") from None
    if not data:
        raise CheckpointError(f"checkpoint `{path}` is empty (0 bytes): {_DAMAGED}")
    try:
        arrays = _unzip(path, data)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to parse an untrusted file is a bad file
        detail = str(exc)
        detail = f" ({type(exc).__name__}: {detail})" if detail and "pickle" not in detail else ""
        raise CheckpointError(f"checkpoint `{path}` cannot be read{detail}: {_DAMAGED}") from None
    ckpt = Checkpoint(path, {}, {})
    blob = arrays.pop(META, None)
    if blob is None:
        raise ckpt.fail(f"it has no `{META}` entry: {_DAMAGED}")
    ckpt.meta = _meta(ckpt, blob)
    for key, value in arrays.items():
        if key.startswith("state:"):
            ckpt.states[key[len("state:"):]] = value
        else:
            ckpt.optim[key] = value
    declared = set(ckpt.meta.get("optimizer", {}).get("arrays", ()))
    if set(ckpt.optim) != declared:
        odd = sorted(set(ckpt.optim) ^ declared)[0]
        raise ckpt.fail(f"entry `{odd}` does not match the optimiser state the checkpoint declares: {_DAMAGED}")
    return ckpt


def _unzip(path: Path, data: bytes) -> dict[str, np.ndarray]:
    """Every member as an array, each header checked before its data is read."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = info.filename
            key = name[:-4] if name.endswith(".npy") else None
            if key is None or not (key == META or key.startswith(("state:", "optim:"))):
                raise CheckpointError(f"checkpoint `{path}`: entry `{name}` is not part of a checkpoint "
                                      f"(expected `{META}`, `state:NAME` or `optim:...` arrays): {_DAMAGED}")
            if key in arrays:
                raise CheckpointError(f"checkpoint `{path}`: entry `{key}` appears twice: {_DAMAGED}")
            raw = io.BytesIO(archive.read(info))      # checks the CRC
            version = np.lib.format.read_magic(raw)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise CheckpointError(f"checkpoint `{path}`: entry `{key}` has an unknown array format "
                                      f"{version}: {_DAMAGED}")
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = header(raw)
            if dtype.hasobject or dtype.kind not in "biuf":
                what = "Python objects" if dtype.hasobject else f"values of type {dtype}"
                raise CheckpointError(f"checkpoint `{path}`: entry `{key}` holds {what}; a checkpoint holds only "
                                      f"numbers, and snnlang never unpickles one: {_DAMAGED}")
            if math.prod(shape) * dtype.itemsize > len(raw.getbuffer()) - raw.tell():
                raise CheckpointError(f"checkpoint `{path}`: entry `{key}` declares shape {shape} but holds less "
                                      f"data: {_DAMAGED}")
            raw.seek(0)
            arrays[key] = np.lib.format.read_array(raw, allow_pickle=False)
    return arrays


def _meta(ckpt: Checkpoint, blob: np.ndarray) -> dict:
    """The meta entry, every field checked for type and range (not yet against a model)."""
    if blob.dtype != np.uint8 or blob.ndim != 1:
        raise ckpt.fail(f"entry `{META}` is not UTF-8 text (dtype {blob.dtype}, shape {blob.shape}): {_DAMAGED}")
    try:
        meta = json.loads(blob.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ckpt.fail(f"entry `{META}` is not valid JSON ({exc}): {_DAMAGED}") from None
    if not isinstance(meta, dict):
        raise ckpt.fail(f"entry `{META}` is not a JSON object: {_DAMAGED}")
    if meta.get("format") != FORMAT:
        raise ckpt.fail(f"its format is {meta.get('format')!r}; this snnlang reads format {FORMAT}; save it "
                        "again with the snnlang that reads it")
    for key in ("network", "target", "main"):
        _expect(ckpt, meta, key, str)
    options = _expect(ckpt, meta, "options", dict)
    if set(options) != set(OPTIONS):
        raise ckpt.fail(f"`options` has {sorted(options)}; expected exactly {list(OPTIONS)}: {_DAMAGED}")
    _count(ckpt, options, "seed", "options.seed", low=None)
    _count(ckpt, options, "batch", "options.batch", low=1)
    if options["dtype"] not in DTYPES:
        raise ckpt.fail(f"`options.dtype` is {options['dtype']!r}; expected one of {', '.join(DTYPES)}")
    _expect(ckpt, options, "device", str, "options.device")
    _count(ckpt, meta, "step", "step")
    _count(ckpt, meta, "samples_seen", "samples_seen")
    for key in ("params", "network_params"):
        for name, value in _expect(ckpt, meta, key, dict).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ckpt.fail(f"`{key}` entry `{name}` is {value!r}; a parameter is a finite number; save a "
                                "checkpoint of a model whose parameters are finite")
    _sources(ckpt, meta)
    if "training" in meta:
        _training(ckpt, _expect(ckpt, meta, "training", dict))
    if "optimizer" in meta:
        opt = _expect(ckpt, meta, "optimizer", dict)
        for key, kind in (("class", str), ("param_groups", list), ("scalars", dict), ("arrays", list)):
            _expect(ckpt, opt, key, kind, f"optimizer.{key}")
        if not all(isinstance(k, str) and k.startswith("optim:") for k in opt["arrays"]):
            raise ckpt.fail(f"`optimizer.arrays` is not a list of entry names: {_DAMAGED}")
    unknown = set(meta) - {"format", "network", "target", "main", "options", "step", "samples_seen", "params",
                           "network_params", "sources", "training", "optimizer"}
    if unknown:
        raise ckpt.fail(f"unknown meta field `{sorted(unknown)[0]}`: {_DAMAGED}")
    return meta


def _expect(ckpt: Checkpoint, where: dict, key: str, kind: type, label: str | None = None):
    value = where.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ckpt.fail(f"`{label or key}` is {'missing' if key not in where else repr(value)[:60]}; expected "
                        f"{kind.__name__}: {_DAMAGED}")
    return value


def _count(ckpt: Checkpoint, where: dict, key: str, label: str, low: int | None = 0) -> int:
    value = _expect(ckpt, where, key, int, label)
    if low is not None and value < low or abs(value) >= 2 ** 62:   # counters are int64 in the kernels
        raise ckpt.fail(f"`{label}` is {value}; expected a whole number from {low or 0} to 2**62: {_DAMAGED}")
    return value


def _sources(ckpt: Checkpoint, meta: dict) -> None:
    """The stored files: plain names (written only inside a temporary folder), the main one present."""
    sources = _expect(ckpt, meta, "sources", dict)
    seen: dict[str, str] = {}
    for name, text in sources.items():
        base = Path(name).name
        bad = next((c for c in name if c in _NAME_CHARS or unicodedata.category(c) in _NAME_CATEGORIES), None)
        if bad is not None or base in ("", ".", ".."):
            why = f"character {bad!r}" if bad is not None else "no file name"
            raise ckpt.fail(f"source file name {name!r} has {why}; a checkpoint stores plain file names: {_DAMAGED}")
        if not isinstance(text, str):
            raise ckpt.fail(f"source `{name}` is not text: {_DAMAGED}")
        if base in seen:
            raise ckpt.fail(f"sources `{seen[base]}` and `{name}` have the same file name `{base}`: {_DAMAGED}")
        seen[base] = name
    if meta["main"] not in sources:
        raise ckpt.fail(f"it names no main source: `{meta['main']}` is not among its {len(sources)} stored "
                        f"file(s): {_DAMAGED}")


def _training(ckpt: Checkpoint, training: dict) -> None:
    if training.get("loop") not in LOOPS:
        raise ckpt.fail(f"`training.loop` is {training.get('loop')!r}; expected one of {', '.join(LOOPS)}: {_DAMAGED}")
    epoch = _count(ckpt, training, "epoch", "training.epoch")
    if _count(ckpt, training, "epochs", "training.epochs") < epoch:
        raise ckpt.fail(f"`training.epochs` is less than `training.epoch` ({epoch}): {_DAMAGED}")
    for entry in _expect(ckpt, training, "history", list, "training.history"):
        if not isinstance(entry, dict) or not all(
                isinstance(v, (int, float, type(None))) and not isinstance(v, bool) for v in entry.values()):
            raise ckpt.fail(f"`training.history` holds {str(entry)[:60]}; expected records of numbers: {_DAMAGED}")
    _expect(ckpt, training, "data", dict, "training.data")
    if training.get("rng") is not None:
        _expect(ckpt, training, "rng", dict, "training.rng")


def load(path: str | Path, target: str | None = None) -> "Model":
    """A Model from a checkpoint: its stored source compiled (in a fresh temporary folder, under
    the stored file names only), then every state and parameter checked and restored."""
    from snnlang.runtime.compile import compile_model
    from snnlang.runtime.model import CompileError
    ckpt = read(path)
    meta = ckpt.meta
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in meta["sources"].items():
            try:
                (Path(tmp) / Path(name).name).write_text(text, encoding="utf-8")
            except (OSError, UnicodeError) as exc:      # a name too long, a lone surrogate
                raise ckpt.fail(f"its source `{name[:80]}` cannot be written as a file ({exc}): {_DAMAGED}") from None
        try:
            model = compile_model(Path(tmp) / Path(meta["main"]).name, target=target or meta["target"],
                                  network=meta["network"], **meta["options"])
        except CompileError as exc:
            raise ckpt.fail(f"its model source does not compile:\n{exc}") from None
        except UserError as exc:        # e.g. its target or device is not available here
            raise ckpt.fail(f"its model cannot be built: {exc}") from None
    restore(model, ckpt)
    return model


# ------------------------------------------------------------------ checking against a model

def restore(model, ckpt: Checkpoint, resuming: bool = False) -> None:
    """Check every entry against `model`, then (only then) set its states and parameters."""
    from snnlang.runtime.model import _param_names
    from snnlang.runtime.network_params import NetworkParams
    meta = ckpt.meta
    if meta["network"] != model.network.name:
        raise ckpt.fail(f"it holds network `{meta['network']}`, not `{model.network.name}`")
    if resuming:
        for key in ("seed", "batch", "dtype"):
            theirs, ours = meta["options"][key], getattr(model.options, key)
            if theirs != ours:
                raise ckpt.fail(f"it was trained with {key}={theirs!r} but this model has {key}={ours!r}; "
                                f"compile with {key}={theirs!r} to continue it exactly")
    states = _checked_states(model, ckpt)
    expected = {f"{owner}.{name}" for owner, names in _param_names(model.ir, model.network).items() for name in names}
    _same_names(ckpt, "parameter", set(meta["params"]), expected)
    _same_names(ckpt, "network parameter", set(meta["network_params"]), set(model.network_params.values))
    probe = NetworkParams(model.network)          # phase lengths derived from them must be valid
    try:
        probe.restore(meta["network_params"], _NoExecutable())
    except UserError as exc:
        raise ckpt.fail(f"its network parameters do not fit the model: {exc}") from None
    optimizer = _optimizer(model) if resuming else None
    if resuming:
        _check_optimizer(ckpt, optimizer)
    try:
        model.network_params.restore(meta["network_params"], model.exe)
        for owner_name, value in meta["params"].items():    # after: explicit settings win
            owner, name = owner_name.rsplit(".", 1)
            model.set_param(owner, name, float(value))
        for name, value in states.items():
            model.exe.set(name, value)
        if optimizer is not None:
            _load_optimizer(ckpt, optimizer)
    except ArithmeticError as exc:      # a parameter the model's derived constants divide by
        raise ckpt.fail(f"its parameters make the model undefined ({exc}): {_DAMAGED}") from None
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ckpt.fail(f"it does not fit the model ({exc}); load it with the model it was saved from") from None
    model.exe.step = meta["step"]
    model.samples_seen = meta["samples_seen"]


def _same_names(ckpt: Checkpoint, what: str, have: set[str], want: set[str]) -> None:
    missing, extra = sorted(want - have), sorted(have - want)
    if missing:
        raise ckpt.fail(f"{what} `{missing[0]}` is missing ({len(missing)} missing in all); the checkpoint "
                        "was saved from another model or is damaged: load it with the model it was saved from")
    if extra:
        raise ckpt.fail(f"{what} `{extra[0]}` is not one of the model's ({len(extra)} unknown in all); "
                        "the checkpoint was saved from another model: load it with the model it was saved from")


def _checked_states(model, ckpt: Checkpoint) -> dict[str, np.ndarray]:
    names = model.exe.state_names()
    have = set(ckpt.states)
    missing = [n for n in names if n not in have]
    if missing:
        raise ckpt.fail(f"entry `state:{missing[0]}` is missing ({len(missing)} missing in all); without it the "
                        "model would not be the one saved: save the checkpoint again, or load it with the model "
                        "it was saved from")
    extra = sorted(have - set(names))
    if extra:
        raise ckpt.fail(f"entry `state:{extra[0]}` is not a state of network `{model.network.name}` "
                        f"({len(extra)} unknown in all); load it with the model it was saved from")
    out = {}
    for name in names:
        value, current = ckpt.states[name], np.asarray(model.exe.get(name))
        entry = f"entry `state:{name}`"
        if value.shape != current.shape:
            raise ckpt.fail(f"{entry} has shape {value.shape} but the model's `{name}` has {current.shape}; the "
                            "checkpoint was saved from another model or batch size: compile with the batch it "
                            f"was saved with ({ckpt.meta['options']['batch']})")
        want = current.dtype.kind
        fits = value.dtype.kind == want if want != "i" else value.dtype.kind in "iu"
        if not fits or value.dtype.kind == "f" and value.dtype.itemsize not in (4, 8):
            raise ckpt.fail(f"{entry} has dtype {value.dtype} but `{name}` is {current.dtype}: {_DAMAGED}")
        if want == "f" and not np.all(np.isfinite(value)):
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
            raise ckpt.fail(f"{entry} is NaN or infinite at index {index}; a model state is finite (a run stops "
                            "before one turns NaN): save a checkpoint from before the values went bad")
        if name.endswith((".indptr", ".indices")) and not np.array_equal(value, current):
            raise ckpt.fail(f"{entry} differs from the model's connectivity, which is fixed when the network "
                            "is built: load it with the model and seed it was saved from")
        out[name] = value.astype(current.dtype, copy=False)
    return out


class _NoExecutable:
    """What `NetworkParams.restore` pushes overrides into while a checkpoint is being checked."""

    def set_param(self, owner: str, name: str, value: float) -> None:
        pass


# --------------------------------------------------------------------- an optimiser's state

def _optimizer(model):
    """The trainer's torch optimiser, if it has one (BPTT): its accumulators shape the next step."""
    optimizer = getattr(getattr(model, "trainer", None), "optimizer", None)
    return optimizer if hasattr(optimizer, "state_dict") and hasattr(optimizer, "load_state_dict") else None


def _optimizer_state(optimizer) -> tuple[dict, dict[str, np.ndarray]]:
    import torch
    state = optimizer.state_dict()
    arrays, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                arrays[f"optim:{index}:{key}"] = value.detach().cpu().numpy().copy()
            else:
                scalars[f"{index}:{key}"] = value
    meta = {"class": type(optimizer).__name__, "param_groups": state["param_groups"], "scalars": scalars,
            "arrays": sorted(arrays)}
    return meta, arrays


def _check_optimizer(ckpt: Checkpoint, optimizer) -> None:
    stored = ckpt.meta.get("optimizer")
    if optimizer is None and stored is not None:
        raise ckpt.fail(f"it was trained with an optimiser ({stored['class']}, learning='bptt'); compile with "
                        "the same learning= and optimizer= to continue it")
    if optimizer is None:
        return
    if stored is None:
        raise ckpt.fail(f"it holds no optimiser state but this model trains with {type(optimizer).__name__}; "
                        "resume with the learning= it was trained with")
    if stored["class"] != type(optimizer).__name__:
        raise ckpt.fail(f"its optimiser is {stored['class']} but this model's is {type(optimizer).__name__}")
    groups = stored["param_groups"]
    current = optimizer.state_dict()["param_groups"]
    if len(groups) != len(current) or any(not isinstance(g, dict) or g.get("params") != c["params"]
                                          for g, c in zip(groups, current)):
        raise ckpt.fail("its optimiser trains other parameters than this model's: load it with the model it "
                        "was saved from")
    for group, ours in zip(groups, current):     # the settings define the run: they must not change
        if set(group) != set(ours):
            odd = sorted(set(group) ^ set(ours))[0]
            raise ckpt.fail(f"optimiser setting `{odd}` does not match this {type(optimizer).__name__}: {_DAMAGED}")
        for key, value in group.items():
            if key != "params" and value != _plain_setting(ours[key]):
                raise ckpt.fail(f"its optimiser setting `{key}` is {value!r} but this model's is {ours[key]!r}; "
                                "resume with the options (lr=, optimizer=) it was trained with")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for key, value in ckpt.optim.items():
        _, index, name = key.split(":", 2)
        if not index.isdigit() or int(index) >= len(params):
            raise ckpt.fail(f"entry `{key}` names no parameter of the optimiser: {_DAMAGED}")
        shape = tuple(params[int(index)].shape)
        if value.dtype.kind != "f" or value.ndim and value.shape != shape:
            raise ckpt.fail(f"entry `{key}` has dtype {value.dtype} and shape {value.shape}; expected floats of "
                            f"shape {shape}: {_DAMAGED}")
        if not np.all(np.isfinite(value)):
            raise ckpt.fail(f"entry `{key}` is NaN or infinite: {_DAMAGED}")
    for key, value in stored["scalars"].items():
        index, _, name = key.partition(":")
        if not index.isdigit() or int(index) >= len(params) or not _same_kind(value, 0.0):
            raise ckpt.fail(f"optimiser scalar `{key}` is {value!r}: {_DAMAGED}")


def _same_kind(value, like) -> bool:
    """Whether a JSON value can stand for a number like `like`."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 2.0 ** 53


def _plain_setting(value):
    """An optimiser setting as JSON gives it back (tuples as lists)."""
    return [_plain_setting(v) for v in value] if isinstance(value, (tuple, list)) else value


def _load_optimizer(ckpt: Checkpoint, optimizer) -> None:
    import torch
    stored = ckpt.meta["optimizer"]
    state: dict[int, dict] = {}
    for key, value in ckpt.optim.items():
        _, index, name = key.split(":", 2)
        state.setdefault(int(index), {})[name] = torch.from_numpy(np.array(value))
    for key, value in stored["scalars"].items():
        index, _, name = key.partition(":")
        state.setdefault(int(index), {})[name] = value
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
              for g in stored["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# ----------------------------------------------------------------------- training sessions

def fingerprint(data) -> dict:
    """What identifies a data set cheaply (a few rows of x, all of y): resuming on other data is
    refused. Event data sets can be many gigabytes, so not every sample is hashed."""
    n = len(data)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(np.asarray(data.y), dtype=np.int64).tobytes())
    for row in np.unique(np.linspace(0, n - 1, num=min(n, 64)).astype(np.int64)) if n else ():
        digest.update(np.ascontiguousarray(data.x[row]).tobytes())
    return {"samples": n, "shape": [int(s) for s in np.shape(data.x)], "dtype": str(data.x.dtype),
            "digest": digest.hexdigest()}


def resume(model, path: str | Path, loop: str, data) -> Progress:
    """Restore `model` from a training checkpoint of the same loop on the same data."""
    ckpt = read(path)
    training = ckpt.meta.get("training")
    if training is None:
        raise ckpt.fail("it holds a model but no training progress (Model.save writes those); continue "
                        "from it with snnlang.load(...).train(...), or resume from a checkpoint that training "
                        "wrote")
    if training["loop"] != loop:
        raise ckpt.fail(f"it was written by {training['loop']}(), not {loop}(); resume it with {training['loop']}()")
    if training["data"] != fingerprint(data):
        raise ckpt.fail(f"it was trained on other data ({training['data'].get('samples')} samples, shape "
                        f"{training['data'].get('shape')}); resume with the same data set, limits and seed")
    rng = training.get("rng")
    if loop == "fit" and rng is None:
        raise ckpt.fail(f"`training.rng` is missing: {_DAMAGED}")
    if rng is not None:
        try:
            np.random.default_rng().bit_generator.state = rng
        except (TypeError, ValueError, KeyError) as exc:
            raise ckpt.fail(f"`training.rng` is not a generator state ({exc}): {_DAMAGED}") from None
    restore(model, ckpt, resuming=True)
    return Progress(training["epoch"], list(training["history"]), rng)


class _Stop(BaseException):
    """Raised by the signal handler; a BaseException so no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Session:
    """A training loop's checkpoints: `completed(epoch, history)` after each epoch writes one
    (kept in memory too); SIGINT/SIGTERM stop the loop at once and leave the last completed
    epoch's checkpoint in `path` (or `fallback`), raising `TrainingInterrupted`. A signal that
    arrives while a checkpoint is written takes effect right after. Without a path (nor a
    fallback) the session does nothing and signals keep their usual effect."""

    def __init__(self, model, path: str | Path | None, loop: str, data, epochs: int,
                 fallback: str | Path | None = None, extra: Callable[[], dict] | None = None) -> None:
        self.model, self.loop, self.epochs = model, loop, int(epochs)
        self.path = Path(path) if path is not None else None
        self.fallback = Path(fallback) if fallback is not None else None
        self.data = fingerprint(data) if self.active else None
        self.extra = extra or dict
        self.last: bytes | None = None
        self.last_epoch, self.last_history = 0, []
        self.written = False
        self.signum: int | None = None
        self._deferred = 0
        self._previous: dict[int, Any] = {}

    @property
    def active(self) -> bool:
        return self.path is not None or self.fallback is not None

    def __enter__(self) -> "Session":
        if self.active and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def _handler(self, signum: int, frame) -> None:
        self.signum = signum
        if not self._deferred:
            raise _Stop(signum)

    @contextlib.contextmanager
    def _deferring(self) -> Iterator[None]:
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1

    def completed(self, epoch: int, history: list[dict]) -> None:
        """`epoch` epochs are done: checkpoint the model (and the loop's extras) as they are now."""
        if not self.active:
            return
        with self._deferring():
            training = {"loop": self.loop, "epoch": int(epoch), "epochs": max(self.epochs, int(epoch)),
                        "history": history, "data": self.data, "rng": None, **self.extra()}
            self.last = encode(self.model, training)
            self.last_epoch, self.last_history, self.written = int(epoch), list(history), False
            if self.path is not None:
                write(self.path, self.last)
                self.written = True
        if self.signum is not None:
            raise _Stop(self.signum)

    def __exit__(self, kind, exc, tb) -> bool:
        try:
            if self.active and isinstance(exc, (_Stop, KeyboardInterrupt)) and self.last is not None:
                self._deferred += 1
                target = self.path or self.fallback
                if not self.written:
                    write(target, self.last)
                signum = exc.signum if isinstance(exc, _Stop) else int(signal.SIGINT)
                raise TrainingInterrupted(target, self.last_epoch, self.epochs, signum, self.last_history,
                                          self.loop) from None
            if isinstance(exc, _Stop):       # stopped before anything could be saved
                raise KeyboardInterrupt from None
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)
            self._previous.clear()
        return False
