"""Text -> AST, with syntax errors as diagnostics.

Recovery: a file that fails to parse is re-parsed one top-level block
(`neuron`, `synapse`, `network`, `import`) at a time, so one broken block
costs one diagnostic and every other block is still parsed and checked.

Limits: every later stage walks expressions and blocks recursively, so nesting is
bounded here, before any of them runs (E105): `MAX_EXPR_DEPTH` levels of expression
(a chain `a + b + c` counts one level per operator) and `MAX_BLOCK_DEPTH` levels of
blocks. Numbers are ASCII digits only: Python's `float` would accept `１０` or `١٠`.
"""

from __future__ import annotations

import importlib.resources
import re
import unicodedata
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import lark
from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import Indenter

from snnlang.diagnostics import Diagnostic, Span, error
from snnlang.syntax import ast as A
from snnlang.syntax.builder import AstBuilder, _FileDoc

TAB_LEN = 4

# Documented in docs/language.md §2. Chosen so that the recursive walkers after the parser
# (AST builder, checker, lowering with sympy and the ODE solvers) stay well below Python's
# default recursion limit of 1000 frames even when called from deep inside an application.
MAX_EXPR_DEPTH = 100
MAX_BLOCK_DEPTH = 50

# a file where no block parses and this many blocks fail is most likely not a `.snn` file:
# show its first error only rather than echoing it line by line
NOT_SNN_AFTER = 3


class IndentationProblem(Exception):
    def __init__(self, message: str, line: int, col: int, hint: str) -> None:
        super().__init__(message)
        self.message, self.line, self.col, self.hint = message, line, col, hint


class SnnIndenter(Indenter):
    """Python-style INDENT/DEDENT; a dedent to an unknown column is a located error."""

    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = TAB_LEN

    def process(self, stream):
        self.open_parens: list[Token] = []  # for "this `(` is never closed" hints
        return super().process(self._track_parens(stream))

    def _track_parens(self, stream):
        for tok in stream:
            if tok.type in self.OPEN_PAREN_types:
                self.open_parens.append(tok)
            elif tok.type in self.CLOSE_PAREN_types and self.open_parens:
                self.open_parens.pop()
            yield tok

    def handle_NL(self, token: Token):
        if self.paren_level > 0:
            return
        yield token
        indent_str = token.rsplit("\n", 1)[1]
        indent = indent_str.count(" ") + indent_str.count("\t") * self.tab_len
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield Token.new_borrow_pos(self.INDENT_type, indent_str, token)
        else:
            while indent < self.indent_level[-1]:
                self.indent_level.pop()
                yield Token.new_borrow_pos(self.DEDENT_type, indent_str, token)
            if indent != self.indent_level[-1]:
                raise IndentationProblem(
                    f"this line is indented to column {indent + 1}, which matches no enclosing block",
                    token.end_line, token.end_column,
                    f"indent it to column {self.indent_level[-1] + 1} like the lines of its block",
                )


@lru_cache(maxsize=1)
def grammar_text() -> str:
    """The grammar shipped as package data (`grammar/` is installed as `snnlang.grammar`)."""
    try:
        resource = importlib.resources.files("snnlang.grammar") / "snn.lark"
        return resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # a source checkout used without installing: the grammar sits beside the package
        return (Path(__file__).resolve().parents[2] / "grammar" / "snn.lark").read_text(encoding="utf-8")


class _Positioned:
    """Whether a child counts for its parent's span: the line break (and the next line's
    indentation) that ends a statement does not, so spans end where the statement ends.
    A class with a fixed repr because Lark's table cache is keyed by the options' text."""

    def __call__(self, node) -> bool:
        return not (isinstance(node, Token) and node.type in ("_NL", "_INDENT", "_DEDENT"))

    def __repr__(self) -> str:
        return "snnlang.syntax.parser._Positioned()"


_positioned = _Positioned()


@lru_cache(maxsize=1)
def _lark() -> Lark:
    options = dict(parser="lalr", lexer="contextual", postlex=SnnIndenter(),
                   propagate_positions=_positioned, maybe_placeholders=True)
    # The LALR tables are a third of a new process's compile time, so they are stored; but
    # Lark's own `cache=` file is a pickle it loads unchecked. They go through snnlang's signed
    # cache instead (snnlang.cache.sign/verify: an entry another user or process planted fails
    # its HMAC and is rebuilt, never unpickled), keyed by the grammar, options and Lark version.
    import io

    from snnlang import cache
    key = cache.sha256_hex("\0".join([grammar_text(), repr(sorted((k, repr(v)) for k, v in options.items()
                                                          if k not in _LOAD_OPTIONS)),
                                      lark.__version__]).encode("utf-8"))
    label = f"lark/{key[:40]}"
    path: Path | None = None
    blob = None
    try:
        path = cache.cache_dir("lark") / f"{key[:40]}.tables"
        blob = path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError:
        path = None               # an unusable cache: analyse in memory
    if blob is not None:
        try:
            tables = cache.verify(blob, label)
            loadable = {k: v for k, v in options.items() if k in _LOAD_OPTIONS}
            return Lark.__new__(Lark)._load(io.BytesIO(tables), **loadable)
        except Exception as exc:  # noqa: BLE001 - planted, truncated or from another Lark: rebuild
            cache.warn_once(label, f"discarded the parser-table cache entry {path} ({exc}); rebuilding it")
    parser = Lark(grammar_text(), **options)
    if path is not None:
        buffer = io.BytesIO()
        parser.save(buffer, exclude_options=_LOAD_OPTIONS)    # callables are passed anew at load
        try:
            cache.atomic_write(path, cache.sign(buffer.getvalue(), label))
        except OSError:
            pass              # an unwritable cache only costs time
    return parser


# the options Lark takes when it loads saved tables (callables, which a table file cannot hold)
_LOAD_OPTIONS = frozenset({"postlex", "propagate_positions", "transformer", "lexer_callbacks",
                           "tree_class", "_plugins", "regex", "g_regex_flags", "use_bytes", "debug"})


# ------------------------------------------------------------------ public API


def parse(text: str, file: str = "<string>") -> tuple[A.Module, list[Diagnostic]]:
    """Parse `.snn` source. Always returns a Module (possibly partial) and diagnostics."""
    text = text.replace("\r\n", "\n")
    if "\t" in text:
        text = text.expandtabs(TAB_LEN)
    items, diag = _parse_items(text, file, line_offset=0)
    if diag is None:
        return _module(file, items), []
    diags: list[Diagnostic] = []
    items = []
    chunks = _top_level_chunks(text)
    for k, (start, chunk) in enumerate(chunks):
        chunk_items, chunk_diag = _parse_items(chunk, file, line_offset=start,
                                               at_file_end=k == len(chunks) - 1)
        if chunk_diag is None:
            items.extend(chunk_items)
        else:
            diags.append(chunk_diag)
    if not diags:  # a whole-file error the chunks do not reproduce (rare): keep the first
        diags.append(diag)
    if not items and len(diags) > NOT_SNN_AFTER:
        first = diags[0]
        diags = [replace(first, hints=first.hints + (
            f"{len(diags) - 1} more syntax errors in this file are not shown: is it a `.snn` file?",))]
    return _module(file, items), diags


def _module(file: str, items: list) -> A.Module:
    doc = next((i.text for i in items if isinstance(i, _FileDoc)), None)
    imports = tuple(i for i in items if isinstance(i, A.Import))
    defs = tuple(i for i in items if isinstance(i, (A.NeuronDef, A.SynapseDef, A.NetworkDef)))
    return A.Module(file, doc, imports, defs)


def _parse_items(text: str, file: str, line_offset: int,
                 at_file_end: bool = True) -> tuple[list, Diagnostic | None]:
    # Lark counts lines from 1 in `text`; positions are shifted by `line_offset` afterwards
    source = text if text.endswith("\n") else text + "\n"
    try:
        tree = _lark().parse(source)
    except IndentationProblem as exc:
        diag = error("E102", exc.message, Span(file, exc.line, exc.col, exc.line, exc.col + 1), exc.hint)
        return [], _shifted(diag, line_offset)
    except UnexpectedInput as exc:
        return [], _shifted(_syntax_diagnostic(exc, source, file, at_file_end, line_offset), line_offset)
    too_deep = _nesting_problem(tree, file)
    if too_deep is not None:
        return [], _shifted(too_deep, line_offset)
    return AstBuilder(file, line_offset).transform(tree), None


def _shifted(diag: Diagnostic, line_offset: int) -> Diagnostic:
    s = diag.span
    if not line_offset or s is None:
        return diag
    return replace(diag, span=Span(s.file, s.line + line_offset, s.col, s.end_line + line_offset, s.end_col))


# parse-tree rules (after aliases) that are one level of expression nesting
_EXPR_RULES = frozenset({"binop", "unary", "compare", "logic", "cond_expr", "attr", "call", "kwarg",
                         "call_args", "fixed_type"})
# ... and one level of block nesting: each `if`, `during`, compartment or handler body (and
# each `elif` of a chain one more, see below)
_BLOCK_RULES = frozenset({"block", "during", "syn_during", "compartment"})


def _nesting_problem(tree, file: str) -> Diagnostic | None:
    """E105 at the first node nested deeper than the limits, found without recursion
    (everything that would otherwise find it recursively could hit RecursionError)."""
    stack = [(tree, 0, 0)]
    while stack:
        node, expr_depth, block_depth = stack.pop()
        kind = str(node.data)
        if kind in _EXPR_RULES:
            expr_depth += 1
        elif kind in _BLOCK_RULES:
            block_depth += 1
        if expr_depth > MAX_EXPR_DEPTH or block_depth > MAX_BLOCK_DEPTH:
            meta = node.meta
            line, col = getattr(meta, "line", 1), getattr(meta, "column", 1)
            span = Span(file, line, col, line, col + 1)
            if expr_depth > MAX_EXPR_DEPTH:
                return error("E105", f"expression is nested too deeply (more than {MAX_EXPR_DEPTH} levels)",
                             span, "each operator of a chain such as `a + b + c` and each call counts one "
                             "level; split the expression into intermediate `param`s, states or updates")
            return error("E105", f"blocks are nested too deeply (more than {MAX_BLOCK_DEPTH} levels)", span,
                         "each nested block and each `elif` counts one level; combine conditions with "
                         "`and` instead of nesting `if`s, or split a long `elif` chain")
        # lowering turns the k-th `elif` into a mask that nests the k conditions before it
        branch = 0
        for child in node.children:
            if isinstance(child, Tree):
                if kind == "if_stmt" and str(child.data) in ("elif_clause", "else_clause"):
                    branch += 1
                stack.append((child, expr_depth, block_depth + branch))
    return None


_BLOCK_START = re.compile(r"[^\s#]")


def _top_level_chunks(text: str) -> list[tuple[int, str]]:
    """Split into top-level blocks: a block starts at a non-blank, non-comment
    line in column 1 that is not inside a triple-quoted string."""
    lines = text.split("\n")
    starts: list[int] = []
    in_string = False
    for i, line in enumerate(lines):
        if not in_string and _BLOCK_START.match(line):
            starts.append(i)
        if line.count('"""') % 2 == 1:
            in_string = not in_string
    if not starts:
        return []
    if starts[0] != 0:
        starts[0] = 0  # leading comments/blank lines belong to the first block
    bounds = starts + [len(lines)]
    return [(bounds[k], "\n".join(lines[bounds[k]:bounds[k + 1]])) for k in range(len(starts))]


# ------------------------------------------------------------- error messages

_FRIENDLY = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string ("...")',
    "_NL": "the end of the line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "$END": "the end of the file",
    "ODE_LHS": "an ODE `dx/dt = ...`",
    "AUGOP": "`+=`, `-=`, `*=` or `/=`",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`",
    "POW_OP": "`^`",
    "PHASE_EDGE": "`start` or `end`",
}


def _describe_terminal(name: str) -> str:
    if name in _FRIENDLY:
        return _FRIENDLY[name]
    try:
        term = _lark().get_terminal(name)
    except KeyError:
        return name
    if term.pattern.type == "str":
        return f"`{term.pattern.value}`"
    return name.lower()


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "_INDENT":
        return "indented block"
    if tok.type == "_DEDENT":
        return "end of block"
    return f"`{tok}`"


def _expected_text(expected: set[str]) -> str:
    words = sorted({_describe_terminal(e) for e in expected})
    if len(words) > 8 and "_NL" in expected:
        # a long list after a complete statement is mostly operators and keywords that could
        # continue it; the line break is what the user most likely meant to write
        rest = _expected_text(expected - {"_NL"})
        return "the end of the line, or " + rest
    if len(words) > 8:
        keywords = [w for w in words if w.startswith("`") and w[1:-1].isalpha()]
        others = [w for w in words if w not in keywords]
        if keywords:
            return "one of " + ", ".join(keywords[:10]) + (" ..." if len(keywords) > 10 else "") + (
                f" (or {len(others)} other kinds of token)" if others else "")
        return "one of " + ", ".join(words[:8]) + " ..."
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _token_span(tok: Token, file: str) -> Span:
    if tok.type in ("_NL", "_INDENT", "_DEDENT"):
        # these borrow the newline's position; point at the end of the line before
        line, col = tok.line, tok.column
        return Span(file, line, col, line, col + 1)
    end_col = tok.end_column if tok.end_line == tok.line and tok.end_column else tok.column + 1
    return Span(file, tok.line, tok.column, tok.line, max(end_col, tok.column + 1))


def _unclosed_paren_hint(before: Token | None, line_offset: int = 0) -> str:
    """A hint naming an open `(` on an earlier line than the error, if the parse left one open."""
    opened = getattr(_lark().options.postlex, "open_parens", None) or []
    if opened and (before is None or before.type in ("_NL", "_DEDENT") or before.line is None
                   or opened[-1].line < before.line):
        return f"the `(` at line {opened[-1].line + line_offset}, column {opened[-1].column} is never closed"
    return ""


def _syntax_diagnostic(exc: UnexpectedInput, source: str, file: str,
                       at_file_end: bool = True, line_offset: int = 0) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        span = Span(file, exc.line, exc.column, exc.line, exc.column + 1)
        char = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else ""
        if char == '"':
            return error("E104", "string is not closed", span,
                         'close it with `"` on the same line, or use `"""` for several lines')
        shown = repr(char) if not char.isprintable() or char.isspace() else f"`{char}`"
        hint = ""
        if unicodedata.category(char or " ") == "Nd":  # `isdigit` would also take `²`
            name = unicodedata.name(char, "a non-ASCII digit").lower()
            return error("E103", f"unexpected character {shown} ({name})", span,
                         "write numbers with the ASCII digits 0-9")
        if char in "{}[];":
            hint = "blocks are made by indentation after `:`, not by braces or semicolons"
        elif char == "'":
            hint = 'strings use double quotes; ODEs are written `dv/dt = ...`'
        return error("E103", f"unexpected character {shown}", span, hint)
    if isinstance(exc, UnexpectedEOF):
        span = Span(file, exc.line if exc.line > 0 else 1, max(exc.column, 1), exc.line, exc.column + 1)
        return error("E101", "unexpected end of file; expected " + _expected_text(exc.expected), span)
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = set(exc.expected)
    if tok.type == "$END":
        line = max(source.rstrip("\n").count("\n") + 1, 1)
        return error("E101", "unexpected end of file; expected " + _expected_text(expected),
                     Span(file, line, 1, line, 2),
                     _unclosed_paren_hint(None, line_offset) or "a block may be unfinished")
    span = _token_span(tok, file)
    if at_file_end and tok.type == "_DEDENT" and not source[tok.start_pos or 0:].strip():
        # the blocks closed by the end of the file (e.g. inside an unclosed `(`)
        return error("E101", "unexpected end of file; expected " + _expected_text(expected), span,
                     _unclosed_paren_hint(None, line_offset) or "a block may be unfinished")
    message = f"unexpected {_describe_token(tok)}; expected {_expected_text(expected)}"
    return error("E100", message, span, _unclosed_paren_hint(tok, line_offset) or _hint_for(tok, expected))


def _hint_for(tok: Token, expected: set[str]) -> str:
    if tok.type == "ASSIGN" and _accepts(expected, "<-"):
        return "a per-step update is written `v <- expr`; `=` assigns only inside handlers"
    if tok.type == "_NL" and _accepts(expected, ":"):
        return "a block header ends with `:`"
    if tok.type == "_INDENT":
        return "indent only after a line that ends with `:`"
    if tok.type == "_NL" and expected & {"NAME", "NUMBER", "LPAR"}:
        return "the expression is incomplete"
    if tok.type == "NAME" and "_NL" in expected:
        return "two things stand side by side; is an operator or a line break missing?"
    if tok.type == "ASSIGN" and "EQ" in expected:
        return "compare with `==`"
    return ""


def _accepts(expected: set[str], literal: str) -> bool:
    for name in expected:
        try:
            term = _lark().get_terminal(name)
        except KeyError:
            continue
        if term.pattern.type == "str" and term.pattern.value == literal:
            return True
    return False
