"""Loading a checkpoint reads and runs only what the user chose (hardening items 2 and 5).

A corpus of damaged and crafted checkpoints, made here from one good checkpoint of
tests/runtime/perceptron.snn: every one is refused with a `UserError` that names what is wrong
(never a raw zip/NumPy/KeyError, never NumPy's advice to allow pickles), or, for a byte flip
that happened to be harmless, loads exactly the saved model. `snnc train --resume` given any of
them prints one message and exits 1. `Model.save` replaces a checkpoint only once the new one
is complete.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import snnlang
from snnlang.cli import main
from snnlang.errors import UserError
from snnlang.runtime.checkpoint import CheckpointError

HERE = Path(__file__).parent
PERCEPTRON = HERE / "perceptron.snn"
DIGITS_MODEL = HERE / "digits_perceptron.snn"


def two_class_data(n: int, seed: int) -> snnlang.Dataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = np.zeros((n, 16))
    for k in range(n):
        x[k, 8 * y[k]:8 * y[k] + 8] = rng.uniform(0.5, 1.0, 8)
    return snnlang.Dataset(x, y)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(model, path, bytes) of a trained perceptron's checkpoint."""
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    model.train(two_class_data(10, 0), epochs=1, progress=False)
    path = tmp_path_factory.mktemp("good") / "good.ckpt"
    model.save(path)
    return model, path, path.read_bytes()


def members(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def rebuilt(blob: bytes, change) -> bytes:
    """The checkpoint with `change(arrays, meta)` applied to its arrays and meta."""
    arrays = members(blob)
    meta = json.loads(arrays.pop("__meta__").tobytes())
    change(arrays, meta)
    out = io.BytesIO()
    np.savez(out, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return out.getvalue()


def drop(key):
    return lambda a, m: a.pop(key)


def put(key, value):
    return lambda a, m: a.__setitem__(key, value)


def meta_set(*path, value):
    def change(a, m):
        where = m
        for key in path[:-1]:
            where = where[key]
        where[path[-1]] = value
    return change


def add_member(blob: bytes, name: str, data: bytes) -> bytes:
    out = io.BytesIO(blob)
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr(name, data)
    return out.getvalue()


def object_array() -> bytes:
    out = io.BytesIO()
    np.save(out, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    return out.getvalue()


# name -> (how to make it from the good bytes, a word the message must contain)
CRAFTED = {
    "missing state": (lambda b: rebuilt(b, drop("state:out.v")), "state:out.v"),
    "extra state": (lambda b: rebuilt(b, put("state:bogus.v", np.zeros((1, 2)))), "state:bogus.v"),
    "wrong shape": (lambda b: rebuilt(b, put("state:W.w", np.zeros((3, 16)))), "shape"),
    "wrong dtype int": (lambda b: rebuilt(b, put("state:W.w", np.zeros((2, 16), np.int64))), "dtype"),
    "wrong dtype complex": (lambda b: rebuilt(b, put("state:W.w", np.zeros((2, 16), complex))), "state:W.w"),
    "wrong dtype text": (lambda b: rebuilt(b, put("state:W.w", np.full((2, 16), "a"))), "state:W.w"),
    "NaN weights": (lambda b: rebuilt(b, put("state:W.w", np.full((2, 16), np.nan))), "NaN"),
    "infinite state": (lambda b: rebuilt(b, put("state:out.v", np.full((1, 2), np.inf))), "state:out.v"),
    "object array (pickle)": (lambda b: add_member(b, "state:evil.npy", object_array()), "objects"),
    "non-npy member": (lambda b: add_member(b, "notes.txt", b"hello"), "notes.txt"),
    "unknown array member": (lambda b: add_member(b, "other.npy", _npy(np.zeros(2))), "other.npy"),
    "no meta": (lambda b: _without_meta(b), "__meta__"),
    "meta not JSON": (lambda b: _with_meta(b, b"{not json"), "JSON"),
    "meta not an object": (lambda b: _with_meta(b, b"[1, 2]"), "JSON object"),
    "meta wrong dtype": (lambda b: _with_raw_meta(b, np.zeros(3)), "__meta__"),
    "format 2": (lambda b: rebuilt(b, meta_set("format", value=2)), "format"),
    "naming no main source": (lambda b: rebuilt(b, meta_set("main", value="elsewhere.snn")), "main source"),
    "no sources": (lambda b: rebuilt(b, meta_set("sources", value={})), "main source"),
    "sources not a dict": (lambda b: rebuilt(b, meta_set("sources", value=["x"])), "sources"),
    "source text not a string": (lambda b: rebuilt(b, lambda a, m: m["sources"].update({m["main"]: 5})),
                                 "not text"),
    "source name with a newline": (lambda b: _renamed_main(b, "p\nimport os.snn"), "character"),
    "source name with a quote": (lambda b: _renamed_main(b, 'p"); import os; ("x.snn'), "character"),
    "source name ..": (lambda b: _renamed_main(b, ".."), "file name"),
    "source name too long": (lambda b: _renamed_main(b, "m" * 300 + ".snn"), "cannot be written"),
    "source text with a lone surrogate": (lambda b: rebuilt(b, lambda a, m: m["sources"].update(
        {m["main"]: "\ud800"})), "cannot be written"),
    "main not a string": (lambda b: rebuilt(b, meta_set("main", value=["a"])), "main"),
    "missing parameter": (lambda b: rebuilt(b, lambda a, m: m["params"].pop("W.lr")), "W.lr"),
    "unknown parameter": (lambda b: rebuilt(b, lambda a, m: m["params"].update({"W.evil": 1.0})), "W.evil"),
    "NaN parameter": (lambda b: rebuilt(b, lambda a, m: m["params"].update({"W.lr": float("nan")})), "W.lr"),
    "zero divisor parameter": (lambda b: rebuilt(b, lambda a, m: m["params"].update({"out.T_f": 0})),
                               "has no value"),
    "text parameter": (lambda b: rebuilt(b, lambda a, m: m["params"].update({"W.lr": "0.1"})), "W.lr"),
    "unknown network parameter": (lambda b: rebuilt(b, lambda a, m: m["network_params"].update({"zz": 1.0})),
                                  "zz"),
    "invalid phase length": (lambda b: rebuilt(b, lambda a, m: m["network_params"].update({"T_f": 2.5})),
                             "whole number"),
    "negative step": (lambda b: rebuilt(b, meta_set("step", value=-1)), "step"),
    "fractional samples": (lambda b: rebuilt(b, meta_set("samples_seen", value=1.5)), "samples_seen"),
    "batch 0": (lambda b: rebuilt(b, meta_set("options", "batch", value=0)), "batch"),
    "dtype float16": (lambda b: rebuilt(b, meta_set("options", "dtype", value="float16")), "dtype"),
    "extra option": (lambda b: rebuilt(b, meta_set("options", "evil", value=1)), "options"),
    "unknown meta field": (lambda b: rebuilt(b, meta_set("exec", value="import os")), "exec"),
    "another network": (lambda b: rebuilt(b, meta_set("network", value="nonesuch")), "nonesuch"),
    "non-zip file": (lambda b: b"this is not a checkpoint\n" * 10, "cannot be read"),
    "a bare .npy": (lambda b: _npy(np.zeros(4)), "cannot be read"),
    "a pickle": (lambda b: b"\x80\x04\x95" + b"\x00" * 40, "cannot be read"),
    "empty file": (lambda b: b"", "empty"),
}


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _without_meta(blob: bytes) -> bytes:
    arrays = members(blob)
    arrays.pop("__meta__")
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _with_raw_meta(blob: bytes, meta: np.ndarray) -> bytes:
    arrays = members(blob)
    arrays["__meta__"] = meta
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _with_meta(blob: bytes, text: bytes) -> bytes:
    return _with_raw_meta(blob, np.frombuffer(text, dtype=np.uint8))


def _renamed_main(blob: bytes, name: str) -> bytes:
    def change(a, m):
        m["sources"][name] = m["sources"].pop(m["main"])
        m["main"] = name
    return rebuilt(blob, change)


def assert_refused(path: Path, word: str | None = None) -> str:
    with pytest.raises(UserError) as info:
        snnlang.load(path)
    text = str(info.value)
    assert isinstance(info.value, CheckpointError), f"{type(info.value).__name__}: {text}"
    assert "allow_pickle" not in text
    if word is not None:
        assert word in text, text
    return text


def assert_same_model(model, path: Path) -> None:
    restored = snnlang.load(path)
    for name in model.state_names():
        np.testing.assert_array_equal(restored.get(name), model.get(name), err_msg=name)
    assert restored.get_param("W", "lr") == model.get_param("W", "lr")
    assert restored.exe.step == model.exe.step and restored.samples_seen == model.samples_seen


@pytest.mark.parametrize("name", list(CRAFTED))
def test_a_crafted_or_damaged_checkpoint_is_one_clear_user_error(name, saved, tmp_path):
    make, word = CRAFTED[name]
    path = tmp_path / "bad.ckpt"
    path.write_bytes(make(saved[2]))
    assert_refused(path, word)


def test_truncated_checkpoints_are_refused_at_every_offset(saved, tmp_path):
    blob = saved[2]
    path = tmp_path / "cut.ckpt"
    for cut in sorted(set(np.linspace(1, len(blob) - 1, 48).astype(int)) | {1, 2, 22, len(blob) - 22}):
        path.write_bytes(blob[:cut])
        assert_refused(path)


def test_byte_flips_are_refused_or_harmless(saved, tmp_path):
    """A flipped byte either makes the file unreadable or, where zip/npy do not look (a time
    stamp, padding), changes nothing: never a model that silently differs."""
    model, _, blob = saved
    rng = np.random.default_rng(20261203)
    path = tmp_path / "flip.ckpt"
    refused = 0
    for _ in range(60):
        data = bytearray(blob)
        where = int(rng.integers(len(data)))
        data[where] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(data))
        try:
            assert_same_model(model, path)
        except UserError as exc:
            assert isinstance(exc, CheckpointError) and "allow_pickle" not in str(exc), str(exc)
            refused += 1
    assert refused > 30, "most bytes of a checkpoint are checked (CRC, headers, meta)"


def test_a_directory_or_a_missing_file_is_a_user_error(tmp_path):
    assert "directory" in assert_refused(tmp_path)
    assert "no such file" in assert_refused(tmp_path / "nonesuch.ckpt")


def test_stored_file_names_are_written_only_inside_a_temporary_folder(saved, tmp_path, monkeypatch):
    """A stored name with folders (`../../x.snn`, `/abs/x.snn`) is reduced to its file name."""
    model, _, blob = saved
    monkeypatch.chdir(tmp_path)
    for name in ("../../escape.snn", "/tmp/abs/escape.snn", "sub/dir/escape.snn"):
        path = tmp_path / "renamed.ckpt"
        path.write_bytes(_renamed_main(blob, name))
        assert_same_model(model, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["renamed.ckpt"]
    assert not (tmp_path.parent / "escape.snn").exists()


def test_the_good_checkpoint_still_round_trips(saved):
    model, path, _ = saved
    assert_same_model(model, path)


# --------------------------------------------------------------------------------- the CLI

@pytest.mark.parametrize("name", ["missing state", "NaN weights", "object array (pickle)", "non-zip file",
                                  "empty file", "naming no main source", "wrong shape"])
def test_snnc_train_resume_from_a_bad_checkpoint_prints_one_message(name, saved, tmp_path, capsys):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(CRAFTED[name][0](saved[2]))
    status = main(["train", str(PERCEPTRON), "--data", "digits", "--samples", "10", "--test-samples", "10",
                   "-q", "--resume", str(path)])
    err = capsys.readouterr().err
    assert status == 1, err
    assert err.startswith("snnc: checkpoint") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal" not in err and "allow_pickle" not in err


def test_snnc_train_resume_from_a_directory_in_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snnlang.cli", "train", str(DIGITS_MODEL), "--data", "digits",
                           "--resume", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("snnc: cannot read the checkpoint") and "directory" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


# ------------------------------------------------------------------------- atomic saving

class _DiskFull(io.RawIOBase):
    """A file that takes half of what is written to it, then fails like a full disk."""

    def __init__(self, fh) -> None:
        self.fh = fh

    def write(self, data) -> int:
        self.fh.write(bytes(data)[:len(data) // 2])
        self.fh.flush()
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        self.fh.close()
        super().close()


def test_a_failed_resave_keeps_the_old_checkpoint_and_leaves_no_temporary_file(saved, tmp_path, monkeypatch):
    model, _, good = saved
    path = tmp_path / "model.ckpt"
    model.save(path)
    before = path.read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _DiskFull(real_fdopen(fd, *a, **k)))
    model.set_param("W", "lr", 0.5)
    with pytest.raises(CheckpointError, match="No space left.*unchanged"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]
    assert snnlang.load(path).get_param("W", "lr") == 0.05


def test_a_kill_while_the_archive_is_written_keeps_the_old_checkpoint(saved, tmp_path, monkeypatch):
    """The archive writer stops halfway (as a kill would): the previous file is whole."""
    model, _, _ = saved
    path = tmp_path / "model.ckpt"
    model.save(path)
    before = path.read_bytes()
    real_savez = np.savez

    def killed(file, *args, **kwds):
        whole = io.BytesIO()
        real_savez(whole, *args, **kwds)
        file.write(whole.getvalue()[:len(whole.getvalue()) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]
    snnlang.load(path)


def test_saving_onto_a_directory_is_a_user_error(saved, tmp_path):
    with pytest.raises(CheckpointError, match="directory"):
        saved[0].save(tmp_path)


def test_a_checkpoint_for_an_unknown_target_names_the_checkpoint(saved, tmp_path):
    path = tmp_path / "target.ckpt"
    path.write_bytes(rebuilt(saved[2], meta_set("target", value="nonesuch")))
    assert "unknown target `nonesuch`" in assert_refused(path, "cannot be built")


def test_a_checkpoint_gets_the_permissions_of_any_new_file(saved, tmp_path):
    """Written through a temporary file, but readable as the umask allows (not private 0600)."""
    mask = os.umask(0o022)
    try:
        saved[0].save(tmp_path / "shared.ckpt")
    finally:
        os.umask(mask)
    assert (tmp_path / "shared.ckpt").stat().st_mode & 0o777 == 0o644
