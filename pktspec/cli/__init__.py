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
import sys
from importlib import import_module

from pktspec.errors import PktspecError

COMMANDS = ("decode", "check", "compile", "build", "list", "doc", "follow", "stats",
            "interfaces")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pktspec", description="Describe packet layers; decode, follow and build packets.")
    parser.add_argument("--version", action="version", version="pktspec 0.1.0")
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
