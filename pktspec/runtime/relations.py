"""What the lambdas of a generated class read, and its RELATIONS put in stages by it.

The builder never runs a lambda to learn what it depends on: it reads the names in its code
object (``this.ihl``, ``c._payload``, ``this["items"]``). From them it knows when each
relation can be evaluated (values only; the unpadded header length; the final lengths; the
header and payload bytes), which fields a tail part's size or a condition reads, and which
edits make a decoded tail stale. :mod:`pktspec.runtime.build` and the modules beside it
(:mod:`~pktspec.runtime.format_split`, :mod:`~pktspec.runtime.conditions`) share these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import construct as _c

__all__ = ["BYTES", "HEADER_SIZE", "LENGTHS", "VALUES", "Relation", "code_reads",
           "names_read", "relations_of", "sized_by"]

# Stages of a relation, in the order the builder evaluates them.
VALUES, HEADER_SIZE, LENGTHS, BYTES = range(4)
_BYTES_NAMES = frozenset({"_header", "_payload", "_pseudo_header"})
_LENGTH_NAMES = frozenset({"_header_len", "_payload_len"})


@dataclass(frozen=True, slots=True)
class Relation:
    """One entry of a class's RELATIONS, with what it reads."""

    name: str
    kind: str  # "length" or "checksum"
    checksum: bool  # kind == "checksum": which of the two modes decides
    fn: Callable[[Any], Any]
    stage: int
    fields: tuple[str, ...]  # the layer's fields it reads
    pseudo: bool  # reads the pseudo-header of the enclosing layer
    payload: bool  # reads the payload bytes (so a truncated capture cannot verify it)
    covers_payload: bool = True  # the payload is among what it sums (with the header)

    def covered(self, header_len: int, payload_len: int) -> int:
        """The length the pseudo-header states: what the checksum covers besides it (the
        header and payload for TCP and UDP; the header alone for OSPFv3, whose LLS block
        after the packet is not counted, RFC 5340 A.3.1)."""
        return header_len + (payload_len if self.covers_payload else 0)


def relations_of(cls: type) -> tuple[Relation, ...]:
    """The class's RELATIONS, each with the stage it can be evaluated in, in stage order."""
    header_reads = set(getattr(getattr(cls, "HEADER", None), "__code__", _NoCode).co_names)
    fmt = getattr(cls, "FORMAT", None)
    header_reads |= _size_reads(fmt.subcons) if fmt is not None else set()
    names = {i.name for i in cls.fields_info}
    out = []
    for name, kind, fn in getattr(cls, "RELATIONS", ()):
        reads = set(fn.__code__.co_names)
        if reads & _BYTES_NAMES:
            stage = BYTES
        elif name in header_reads and "_header_len" in reads:
            stage = HEADER_SIZE
        elif reads & _LENGTH_NAMES:
            stage = LENGTHS
        else:
            stage = VALUES
        out.append(Relation(name, kind, kind == "checksum", fn, stage,
                            tuple(sorted(reads & names)), "_pseudo_header" in reads,
                            "_payload" in reads or "_pseudo_header" in reads,
                            "_payload" in reads or "_payload_len" in reads))
    return tuple(sorted(out, key=lambda r: r.stage))


def _size_reads(subcons: Any) -> set[str]:
    """Names read by the sizes of a layer's parts (``options ... size ihl * 4``,
    ``meta: bytes[hlen * 4 - 4]``)."""
    out: set[str] = set()
    for sc in subcons:
        inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
        if isinstance(inner, _c.IfThenElse):
            inner = inner.thensubcon
        out |= sized_by(inner)
    return out


class _NoCode:
    co_names: tuple[str, ...] = ()


def sized_by(inner: Any) -> set[str]:
    """The names the size of a part reads: a FixedSized's (``T[] size n``), a Bytes' or
    an Array's (``bytes[n * 4]``, ``T[n]``) length, when an expression gives it."""
    if isinstance(inner, _c.FixedSized):
        size = inner.length
    elif isinstance(inner, _c.Bytes):
        size = inner.length
    elif isinstance(inner, _c.Array):
        size = inner.count
    else:
        return set()
    code = getattr(size, "__code__", None)
    return code_reads(code) if code is not None else set()


def code_reads(code: Any) -> set[str]:
    """The names a FORMAT lambda reads: attributes (``this._bits0``) and the keys generated
    code reads fields by (``this["items"]``, string constants)."""
    return set(code.co_names) | {c for c in code.co_consts if isinstance(c, str)}


def names_read(con: Any, depth: int = 0) -> set[str]:
    """Names the lambdas of a construct part (and the parts inside it) read from ``this``."""
    out: set[str] = set()
    if depth > 6 or con is None:
        return out
    for value in vars(con).values() if hasattr(con, "__dict__") else ():
        code = getattr(value, "__code__", None)
        if code is not None:
            out |= code_reads(code)
        elif isinstance(value, _c.Construct):
            out |= names_read(value, depth + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                if isinstance(v, _c.Construct):
                    out |= names_read(v, depth + 1)
        elif isinstance(value, dict):
            for v in value.values():
                if isinstance(v, _c.Construct):
                    out |= names_read(v, depth + 1)
    return out
