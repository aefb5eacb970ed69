"""Hardening of the parser: ASCII-only numbers, bounded nesting, linear-time recovery."""

from __future__ import annotations

import statistics
import time

import pytest

from snnlang.syntax.parser import MAX_BLOCK_DEPTH, MAX_EXPR_DEPTH, parse


def codes(text: str) -> list[str]:
    _module, diags = parse(text, "t.snn")
    return [d.code for d in diags]


def neuron(update: str) -> str:
    return f"neuron N:\n    state v = 0\n    v <- {update}\n    spike when v > 1\n"


# ------------------------------------------------------------------ digits


@pytest.mark.parametrize("digits", ["１０", "١٠", "०", "1０", "２.5"])
def test_non_ascii_digits_are_refused(digits: str):
    # Python's float() reads all of these; they used to be parsed as numbers
    module, diags = parse(f"neuron N:\n    param tau = {digits}\n    state v = 0\n", "t.snn")
    assert [d.code for d in diags] == ["E103"]
    d = diags[0]
    assert (d.span.line, d.span.col) == (2, 17 + (1 if digits[0] == "1" else 0))
    assert any("ASCII digits" in h for h in d.hints)
    assert "digit" in d.message


def test_ascii_numbers_still_parse():
    assert codes("neuron N:\n    param tau = 10.5e-3\n    param k = .5\n    state v = 0\n") == []


# ----------------------------------------------------------------- nesting


@pytest.mark.parametrize("update", [
    " + ".join(["v"] * 490),                  # a long sum is a deep (left-nested) tree
    "exp(" * 330 + "v" + ")" * 330,           # nested calls
    "-" * 500 + "v",                          # nested unary minus
    " ^ ".join(["1"] * 300) + " * v",         # right-nested powers
])
def test_deep_expressions_are_e105_not_recursion_errors(update: str):
    module, diags = parse(neuron(update), "t.snn")
    assert [d.code for d in diags] == ["E105"]
    assert diags[0].span.line == 3
    assert f"more than {MAX_EXPR_DEPTH} levels" in diags[0].message


def test_nested_ifs_are_e105_not_recursion_errors():
    ifs = "".join("    " * (k + 2) + "if v > 0:\n" for k in range(250))
    text = "neuron N:\n    state v = 0\n    spike when v > 1:\n" + ifs + "    " * 252 + "v = 0\n"
    module, diags = parse(text, "t.snn")
    assert [d.code for d in diags] == ["E105"]
    assert f"more than {MAX_BLOCK_DEPTH} levels" in diags[0].message


def _elif_chain(n: int) -> str:
    return ("neuron N:\n    state v = 0\n    spike when v > 1:\n        if v > 0:\n            v = 0\n"
            + "".join(f"        elif v > {k}:\n            v = {k}\n" for k in range(1, n)) + "\n")


def test_a_long_elif_chain_is_e105():
    # lowering nests the conditions of all earlier branches into each `elif`'s mask: 300
    # branches checked and lowered, then ended in RecursionError in sympy when compiled
    assert codes(_elif_chain(300)) == ["E105"]
    assert codes(_elif_chain(MAX_BLOCK_DEPTH - 2)) == []


def test_nesting_at_the_limits_parses():
    # a sum of n terms nests n - 1 levels; the update's `<-` adds none
    assert codes(neuron(" + ".join(["v"] * MAX_EXPR_DEPTH))) == []
    assert codes(neuron(" + ".join(["v"] * (MAX_EXPR_DEPTH + 2)))) == ["E105"]
    # the handler body is the first block level, each `if` one more
    depth = MAX_BLOCK_DEPTH - 1
    ifs = "".join("    " * (k + 2) + "if v > 0:\n" for k in range(depth))
    text = "neuron N:\n    state v = 0\n    spike when v > 1:\n" + ifs + "    " * (depth + 2) + "v = 0\n"
    assert codes(text) == []


def test_a_deep_block_does_not_hide_the_others():
    deep = neuron(" + ".join(["v"] * 300))
    module, diags = parse(deep + "\n" + deep.replace("neuron N", "neuron M").replace(
        " + ".join(["v"] * 300), "v"), "t.snn")
    assert [d.code for d in diags] == ["E105"]
    assert [d.name for d in module.definitions] == ["M"]


# ---------------------------------------------------------------- recovery


def test_recovered_blocks_keep_their_line_numbers():
    text = ("neuron A:\n    state v = = 0\n\n"
            "neuron B:\n    state v = 0\n    v <- v\n    spike when v > 1\n\n"
            "neuron C:\n    state v = (1 +\n")
    module, diags = parse(text, "t.snn")
    assert [(d.code, d.span.line) for d in diags] == [("E100", 2), ("E101", 10)]
    assert any("line 10" in h for h in diags[1].hints), diags[1].hints
    b = module.definitions[0]
    assert b.name == "B" and b.span.line == 4


def _median_parse_time(text: str, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        parse(text, "t.snn")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_recovery_is_linear_in_the_number_of_broken_blocks():
    # each broken block is re-parsed on its own; it used to be padded with one newline per
    # line before it, so recovery was quadratic (8,000 blocks: minutes)
    def broken(n: int) -> str:  # one good block, so it is not taken for a file of another kind
        return neuron("v") + "".join(f"neuron N{k}:\n    state v = = 0\n\n" for k in range(n))
    small, large = broken(500), broken(4000)
    assert len(parse(small, "t.snn")[1]) == 500
    ratio = _median_parse_time(large) / _median_parse_time(small)
    assert ratio < 8 * 2.5, f"8x the broken blocks took {ratio:.1f}x the time"


def test_a_file_that_is_not_a_model_shows_its_first_error_only():
    passwd = "".join(f"user{k}:x:{k}:{k}:User {k}:/home/user{k}:/bin/sh\n" for k in range(30))
    module, diags = parse(passwd, "passwd")
    assert len(diags) == 1
    assert diags[0].span.line == 1
    assert any("29 more syntax errors" in h for h in diags[0].hints)


def test_a_model_with_a_few_broken_blocks_shows_each():
    text = "".join(f"neuron N{k}:\n    state v = = 0\n\n" for k in range(3))
    assert codes(text) == ["E100"] * 3
