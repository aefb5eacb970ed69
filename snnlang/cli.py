"""`snnc`: the command-line front end of snnlang.

Exit codes: 0 clean (warnings allowed), 1 errors in a model, 2 usage or unreadable file.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

from snnlang import __version__
from snnlang.commands import add_commands
from snnlang.diagnostics import render
from snnlang.errors import UserError
from snnlang.semantics.checker import CheckResult, check_path

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _print_result(result: CheckResult, quiet: bool) -> None:
    for d in result.diagnostics:
        if quiet and not d.is_error:
            continue
        print(render(d, result.sources), file=sys.stderr)
        print(file=sys.stderr)
    for file, count in result.omitted.items():
        print(f"{file or result.file}: {count} more error{'s' * (count != 1)} or warning"
              f"{'s' * (count != 1)} not shown", file=sys.stderr)
        print(file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    """Check every file; report every diagnostic; exit 1 if any file has errors."""
    status = EXIT_OK
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(f"snnc: cannot read `{name}`: "
                  f"{'it is a directory' if path.is_dir() else 'no such file'}", file=sys.stderr)
            status = max(status, EXIT_USAGE)
            continue
        result = check_path(path)
        _print_result(result, args.quiet)
        if any(d.code == "E700" for d in result.diagnostics):
            status = max(status, EXIT_USAGE)
        elif not result.ok:
            status = max(status, EXIT_ERRORS)
        errors = len(result.errors) + result.omitted_errors
        warnings = len(result.diagnostics) + sum(result.omitted.values()) - errors
        if not args.quiet:
            verdict = "ok" if errors == 0 else f"{errors} error{'s' * (errors != 1)}"
            extra = f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
            print(f"{name}: {verdict}{extra}")
    return status


def cmd_doc(args: argparse.Namespace) -> int:
    """Show the docstrings of a model file's definitions."""
    result = check_path(args.file)
    if result.module is None:
        _print_result(result, quiet=True)
        return EXIT_USAGE
    if result.module.doc and not args.name:
        print(result.module.doc, end="\n\n")
    shown = 0
    for d in result.module.definitions:
        if args.name and d.name != args.name:
            continue
        kind = type(d).__name__.replace("Def", "").lower()
        print(f"{kind} {d.name}")
        print("    " + (d.doc or "(no docstring)").replace("\n", "\n    "), end="\n\n")
        shown += 1
    if args.name and not shown:
        print(f"snnc: `{args.file}` has no definition `{args.name}`", file=sys.stderr)
        return EXIT_ERRORS
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnc",
        description="Compile and check .snn spiking-network models.",
        epilog="Exit codes: 0 ok, 1 errors in a model, 2 usage error or unreadable file.",
    )
    parser.add_argument("--version", action="version", version=f"snnc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="parse and check model files, reporting every error",
                       description="Parse and check .snn files (and their imports). Every error is "
                       "reported with file:line:col, the source line and a hint.")
    p.add_argument("files", nargs="+", metavar="FILE", help=".snn files to check")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only, no summary or warnings")
    p.set_defaults(func=cmd_check)

    add_commands(sub)

    p = sub.add_parser("doc", help="show the docstrings of a model file",
                       description="Print the file docstring and each definition's docstring.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("name", nargs="?", help="only this neuron, synapse or network")
    p.set_defaults(func=cmd_doc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return _guarded(args.func, args)


def _guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """A bug in snnc must not look like the user's fault: say so plainly, keep the details short."""
    try:
        return func(args)
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 130
    except UserError as exc:  # the model, data or options: the message says what and how to fix it
        text = str(exc)
        print(text if "error[" in text else f"snnc: {text}", file=sys.stderr)
        return EXIT_ERRORS
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"snnc: internal compiler error: {type(exc).__name__}: {exc}\n"
              f"  at {Path(frame.filename).name}:{frame.lineno}\n"
              "  This is a bug in snnc, not in your model; please report it with the model file.",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
