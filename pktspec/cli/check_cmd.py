"""``pktspec check``: report every error of .layer files, at file:line:column.

Warnings (a binding no layer will ever use) are printed too, after the file's problems or
before its "ok"; they do not make the command fail."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from pktspec.errors import SpecError, SpecWarning


def add_parser(sub: Any) -> None:
    p = sub.add_parser("check", help="check .layer files and report every error",
                       description="Check .layer files (and what they import).")
    p.add_argument("files", nargs="+", metavar="FILE.layer")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pktspec.generator import check_file

    failed = 0
    for path in args.files:
        try:
            with warnings.catch_warnings():  # printed below, from checked.warnings
                warnings.simplefilter("ignore", SpecWarning)
                checked = check_file(path)
        except SpecError as exc:
            failed += 1
            print(exc.render(), file=sys.stderr)
            n = len(exc.problems)
            print(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
            continue
        entry = checked.program.entry
        units = [u for u in checked.units.values() if u.file is entry]
        layers = sum(1 for u in units if u.kind == "layer")
        structs = len(units) - layers
        enums = sum(1 for e in checked.enums.values() if e.file is entry)
        for w in checked.warnings:
            print(w.render(), file=sys.stderr)
        n = len(checked.warnings)
        note = f", {n} warning{'s' if n != 1 else ''}" if n else ""
        print(f"{path}: ok ({layers} layers, {structs} structs, {enums} enums{note})")
    return 1 if failed else 0
