"""`snnc check`: exit codes, rendered diagnostics, several files at once.

Exit codes: 0 clean (warnings allowed), 1 errors in a model, 2 usage error or unreadable file.
Run both in-process (`snnlang.cli.main`) and as `python -m snnlang.cli`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from snnlang.cli import main

ROOT = Path(__file__).resolve().parents[2]

CLEAN = textwrap.dedent('''\
    """A clean unit-free model."""

    neuron LIF:
        param tau = 10
        param th = 1
        state v = 0
        input I
        dv/dt = (I - v) / tau
        spike when v > th:
            v = 0

    synapse Static:
        param w = 0.5
        on pre:
            post.I += w

    network net:
        input x = poisson(100)
        layer out = LIF(10)
        connect x -> out with Static(dense)
''')

# one unit error (line 7) and one misspelt name (line 8)
BROKEN = textwrap.dedent('''\
    neuron LIF:
        param tau_m = 20 ms
        param v_rest = -65 mV
        param v_th = -50 mV
        state v = v_rest
        input I: mV / ms
        dv/dt = (v_rest - v + tau_m) / tau_m + I
        spike when v > v_thresh:
            v = v_rest
''')

WARNING_ONLY = CLEAN.replace("    layer out = LIF(10)\n", "    layer out = LIF(10)\n    layer idle = LIF(3)\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in {"clean.snn": CLEAN, "broken.snn": BROKEN, "warn.snn": WARNING_ONLY}.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


_HEAD = re.compile(r"^\S+:\d+:\d+: (error|warning)\[")


def _diagnostic_blocks(stderr: str) -> list[str]:
    """Each rendered diagnostic: its `file:line:col: ...` line and the lines under it."""
    blocks: list[list[str]] = []
    for line in stderr.splitlines():
        if _HEAD.match(line):
            blocks.append([line])
        elif blocks and line.strip() and (line.startswith(" ") or line.startswith("  =")):
            blocks[-1].append(line)
    return ["\n".join(b) for b in blocks]


def _assert_rendered(block: str, path: Path, line: int, col: int, code: str, source_line: str) -> None:
    head, src, caret, *_ = block.splitlines()
    assert head.startswith(f"{path}:{line}:{col}: error[{code}]"), block
    assert src == f" {line} | {source_line}", block
    bar = caret.index("|")
    assert caret[bar + 2:].lstrip(" ").startswith("^") and len(caret[bar + 2:]) - len(caret[bar + 2:].lstrip(" ")) == col - 1


# ------------------------------------------------------------------ in-process


def test_clean_file_exits_0(files, capsys):
    assert main(["check", str(files["clean.snn"])]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{files['clean.snn']}: ok"
    assert err == ""


def test_error_file_exits_1_with_location_source_and_caret(files, capsys):
    path = files["broken.snn"]
    assert main(["check", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out.strip() == f"{path}: 2 errors"
    blocks = _diagnostic_blocks(err)
    assert len(blocks) == 2, err
    _assert_rendered(blocks[0], path, 7, 14, "E300", "    dv/dt = (v_rest - v + tau_m) / tau_m + I")
    _assert_rendered(blocks[1], path, 8, 20, "E200", "    spike when v > v_thresh:")
    assert "= hint: did you mean" in blocks[1] and "`v_th`" in blocks[1]


def test_warnings_alone_exit_0_and_quiet_hides_them(files, capsys):
    path = files["warn.snn"]
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{path}: ok, 1 warning"
    assert f"{path}:20:11: warning[W600]" in err
    assert main(["check", "-q", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_quiet_still_prints_errors(files, capsys):
    assert main(["check", "--quiet", str(files["broken.snn"])]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(_diagnostic_blocks(err)) == 2


def test_missing_file_exits_2(tmp_path, capsys):
    missing = tmp_path / "nope.snn"
    assert main(["check", str(missing)]) == 2
    _, err = capsys.readouterr()
    assert f"cannot read `{missing}`" in err and "no such file" in err
    assert "Traceback" not in err


def test_directory_exits_2(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert "it is a directory" in capsys.readouterr().err


def test_undecodable_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "latin1.snn"
    bad.write_bytes("neuron N\xe9:\n    state v = 0\n".encode("latin-1"))
    assert main(["check", str(bad)]) == 2
    _, err = capsys.readouterr()
    assert "E700" in err and "Traceback" not in err


def test_no_arguments_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_check_without_files_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 2
    assert "FILE" in capsys.readouterr().err


def test_several_files_report_all_and_exit_with_the_worst(files, tmp_path, capsys):
    missing = tmp_path / "missing.snn"
    paths = [files["clean.snn"], files["broken.snn"], files["warn.snn"]]
    assert main(["check", *map(str, paths)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{paths[0]}: ok", f"{paths[1]}: 2 errors", f"{paths[2]}: ok, 1 warning"]
    assert len(_diagnostic_blocks(err)) == 3
    # an unreadable file among them makes it a usage error (2), the others are still checked
    assert main(["check", str(missing), *map(str, paths)]) == 2
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3 and "missing.snn" in err and len(_diagnostic_blocks(err)) == 3


def test_errors_in_an_imported_file_point_into_that_file(tmp_path, capsys):
    (tmp_path / "lib.snn").write_text(BROKEN, encoding="utf-8")
    main_file = tmp_path / "main.snn"
    main_file.write_text('import "lib.snn"\n', encoding="utf-8")
    assert main(["check", str(main_file)]) == 1
    _, err = capsys.readouterr()
    blocks = _diagnostic_blocks(err)
    assert len(blocks) == 2
    assert all(re.match(r"^\S*lib\.snn:\d+:\d+: error", b) for b in blocks), err


def test_tabs_render_with_the_caret_under_the_mistake(tmp_path, capsys):
    path = tmp_path / "tabs.snn"
    path.write_text("neuron N:\n\tparam tau = 10\n\tstate v = 0\n\tdv/dt = -v / tauu\n", encoding="utf-8")
    assert main(["check", str(path)]) == 1
    [block] = _diagnostic_blocks(capsys.readouterr().err)
    _, src, caret, *_ = block.splitlines()
    code_line = src.split(" | ", 1)[1]
    marks = caret.split(" | ", 1)[1]
    assert code_line[marks.index("^"):].startswith("tauu"), block


# ------------------------------------------------------------------ subprocess


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "snnlang.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_subprocess_exit_codes(files, tmp_path):
    proc = _run("check", str(files["clean.snn"]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("clean.snn: ok")

    proc = _run("check", str(files["broken.snn"]))
    assert proc.returncode == 1
    assert f"{files['broken.snn']}:7:14: error[E300]" in proc.stderr
    assert " 7 |     dv/dt = (v_rest - v + tau_m) / tau_m + I" in proc.stderr
    assert re.search(r"^\s+\|\s+\^+$", proc.stderr, re.M)

    proc = _run("check", str(tmp_path / "missing.snn"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr

    proc = _run()
    assert proc.returncode == 2 and "usage" in proc.stderr

    proc = _run("check")
    assert proc.returncode == 2 and "usage" in proc.stderr

    for proc in (_run("check", str(files["clean.snn"])), _run("check", str(files["broken.snn"]))):
        assert "Traceback" not in proc.stderr


def test_subprocess_several_files_and_relative_paths(files, tmp_path):
    proc = _run("check", "clean.snn", "broken.snn", "warn.snn", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == ["clean.snn: ok", "broken.snn: 2 errors", "warn.snn: ok, 1 warning"]
    assert "broken.snn:7:14: error[E300]" in proc.stderr
    assert "broken.snn:8:20: error[E200]" in proc.stderr
    assert "warn.snn:20:11: warning[W600]" in proc.stderr


def test_subprocess_on_the_invalid_model_corpus():
    invalid = sorted((ROOT / "tests" / "invalid").glob("*.snn"))
    proc = _run("check", *map(str, invalid))
    assert proc.returncode == 1
    assert len(proc.stdout.splitlines()) == len(invalid)
    assert "internal compiler error" not in proc.stderr and "Traceback" not in proc.stderr
