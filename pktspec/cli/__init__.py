"""The ``pktspec`` command: argument parsing only; each subcommand lives in its own module.

    pktspec decode capture.pcap                     one line per packet, like tcpdump
    pktspec decode -V --layers myencap.layer --first MyEncap x.pcap
    pktspec check myencap.layer                     every error at file:line:column
    pktspec compile myencap.layer -o myencap_layers.py

A subcommand module has ``add_parser(subparsers)`` and ``run(args) -> int``; COMMANDS lists
them in the order ``pktspec --help`` shows them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import IO, Any

from pktspec import __version__
from pktspec.errors import PktspecError

COMMANDS = ("decode", "check", "compile", "build", "list", "doc", "follow", "messages", "stats",
            "interfaces")


STDIN = "-"  # a capture FILE argument that means "read the capture from standard input"


def positive_int(text: str) -> int:
    """argparse type of a count such as ``-c N``: a whole number, at least 1."""
    return _at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type of a count where 0 means none (``stats -n 0``), or of an index."""
    return _at_least(text, 0)


def _at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {low} or more, not {value}")
    return value


def capture_input(path: str) -> str | IO[bytes]:
    """What to open for a capture FILE argument: the path, or standard input's bytes for
    ``-`` (the readers take a binary file object and never seek, so a pipe works)."""
    return sys.stdin.buffer if path == STDIN else path


class CannotWrite(PktspecError):
    """An output file could not be written; says which, in the words the user gave it."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}")


@contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into CannotWrite naming ``path`` itself (never
    a temporary file or a parent folder the error may name)."""
    try:
        yield
    except OSError as exc:
        raise CannotWrite(path, exc.strerror or str(exc)) from exc


class UnknownLayer(PktspecError):
    """A layer name on the command line that names no registered layer, or several."""


def find_layer(name: str) -> type:
    """The registered layer a name on the command line means: the exact name, or else the
    one layer whose name matches ignoring case (``ipv4`` is IPv4). UnknownLayer when none
    matches, or when several differ only in case."""
    from pktspec.runtime.registry import REGISTRY

    cls = REGISTRY.get_layer(name)
    if cls is not None:
        return cls
    matches = [c for c in REGISTRY.layers() if c.name.lower() == name.lower()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(c.name for c in matches)
        raise UnknownLayer(f"layer name {name!r} is ambiguous: say which of {names}")
    raise UnknownLayer(f"no layer called {name!r} (see 'pktspec list'; load a .layer file "
                       "first with --layers)")


class _VersionAction(argparse.Action):
    """``--version``: the version, and which decode loop runs (the compiled one, or pure
    Python), on lines of their own (argparse's version action would reflow them)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any,
                 option_string: str | None = None) -> None:
        from pktspec.runtime import fastpath
        from pktspec.runtime.registry import REGISTRY

        print(f"pktspec {__version__}\n{fastpath.status(REGISTRY.layers())}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pktspec", description="Describe packet layers; decode, follow and build packets.")
    parser.add_argument("--version", action=_VersionAction, nargs=0,
                        help="show the version and which decode loop runs, and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = import_module(f"pktspec.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name != f"pktspec.cli.{name}_cmd":
                raise
            continue  # a command not built yet is left out of the menu, never half-shown
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except PktspecError as exc:
        print(f"pktspec: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `pktspec decode x.pcap | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # a path that cannot be read or written: say which, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"pktspec: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
