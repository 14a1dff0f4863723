"""``pktspec compile``: write the Python module of a .layer file, or regenerate/verify the
built-in protocol modules (``--builtins``, ``--builtins --check``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pktspec.cli import writing


def add_parser(sub: Any) -> None:
    p = sub.add_parser("compile", help="compile a .layer file to a Python module",
                       description="Compile a .layer file into a standalone module that needs "
                       "only the pktspec runtime and construct.")
    p.add_argument("file", nargs="?", metavar="FILE.layer")
    p.add_argument("-o", "--output", help="output .py (default: print to stdout)")
    p.add_argument("--builtins", action="store_true",
                   help="regenerate the built-in modules beside their .layer files")
    p.add_argument("--check", action="store_true",
                   help="write nothing; fail if any output differs from what is on disk")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.builtins:
        from pktspec.generator.builtins import regenerate

        stale = regenerate(check_only=args.check)
        for path in stale:
            verb = "stale" if args.check else "wrote"
            print(f"{verb}: {path}", file=sys.stderr if args.check else sys.stdout)
        if args.check and stale:
            print("built-in modules differ from their .layer files: run "
                  "'pktspec compile --builtins'", file=sys.stderr)
            return 1
        return 0
    if not args.file:
        raise SystemExit("pktspec compile: give a FILE.layer (or --builtins)")
    from pktspec.generator.check import check
    from pktspec.generator.compiler import render_file
    from pktspec.generator.loader import write_atomic
    from pktspec.generator.resolve import resolve

    checked = check(resolve(Path(args.file)))
    text = render_file(checked, checked.program.entry)
    if args.check and not args.output:
        raise SystemExit("pktspec compile: --check compares with a file: give -o FILE.py")
    if not args.output:
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if args.check:
        same = out.exists() and out.read_text(encoding="utf-8") == text
        if not same:
            print(f"stale: {out}", file=sys.stderr)
        return 0 if same else 1
    with writing(out):
        write_atomic(out, text)
    print(f"wrote {out}")
    return 0
