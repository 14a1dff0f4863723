"""The optional compiled decode loop: which one runs, and its wiring.

pktspec decodes in pure Python (packet.py's ``decode_eager``, parser.py's decoder, each
layer's generated ``_decode``); that path is the reference and always works. When the C
extension ``pktspec.runtime._fastpath`` was built at install time (a C compiler and Python's
headers; ``pip install`` tries and carries on without it), the same loops run in C, and each
layer whose generated decoder could be restated as a program
(``pktspec/generator/fast_program.py``; ``_PROGRAM`` in the generated class) is decoded by
running that program instead of calling Python. A program that meets an error or anything it
will not do exactly as Python (see the generator's module) hands the layer back to its
Python ``_decode``: results are the same either way, and tests compare them.

``PKTSPEC_PURE=1`` in the environment (read once, at import) turns the compiled loop off;
:data:`ACTIVE` says whether it is on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

try:
    if os.environ.get("PKTSPEC_PURE", "") not in ("", "0"):
        raise ImportError("PKTSPEC_PURE is set")
    from pktspec.runtime import _fastpath as _ext
except ImportError:  # not built (no compiler at install time), or turned off
    _ext = None

__all__ = ["ACTIVE", "BUILT", "attach_program", "chain_decoder", "configure", "decoder_of",
           "program_key", "status"]

ACTIVE: bool = _ext is not None
"""Whether the compiled loop decodes (built, and not turned off by PKTSPEC_PURE)."""


def _built() -> bool:
    import importlib.util

    return importlib.util.find_spec("pktspec.runtime._fastpath") is not None


BUILT: bool = ACTIVE or _built()
"""Whether the extension is installed at all (ACTIVE may still be False: PKTSPEC_PURE)."""


def program_key(program: tuple) -> str:
    """The name of a program's compiled form among the built-in layers' (a hash of its
    repr): a program that changed since the extension was built finds none and is run by
    the extension's interpreter instead."""
    return hashlib.sha256(repr(program).encode()).hexdigest()[:16]


def attach_program(cls: type) -> None:
    """Give a layer class its compiled program (``cls._fast``) when it has a ``_PROGRAM`` of
    its own and its own ``_decode`` (a subclass that overrides ``_decode`` keeps Python's).
    Called when the class is created (Layer.__init_subclass__)."""
    spec = cls.__dict__.get("_PROGRAM")
    if _ext is None or spec is None or "_decode" not in cls.__dict__:
        return
    try:
        cls._fast = _ext.Program(spec, cls, cls.__dict__["_decode"].__globals__,
                                 program_key(spec))
    except (TypeError, ValueError) as exc:
        # a program that does not fit its class (slots renamed by hand, an older format):
        # the class decodes in Python, and says why when asked
        cls._fast = None
        cls._fast_refused = str(exc)


def configure(**runtime: Any) -> Callable[..., Any] | None:
    """Hand the compiled loop the runtime's classes and functions (packet.py does this once
    it has defined them); returns the compiled decode_eager, or None when there is none."""
    if _ext is None:
        return None
    _ext.configure(**runtime)
    return _ext.decode_eager


def decode_layer() -> Callable[[type, Any, int, int], tuple[Any, Any]] | None:
    """The compiled one-layer step ``(cls, buf, off, end) -> (layer, next class)`` that lazy
    packets use, or None (they then make the layer and call its _decode themselves)."""
    return None if _ext is None else _ext.decode_layer


def in_order_path(assembler: Any, count: bool, *classes: type) -> Any:
    """The compiled form of the TCP assembler's in-order branch (reassembly/tcp.py) for one
    assembler, or None. ``count``: add each packet it takes to ``assembler.stats.packets``
    (assemble()) or only to its own ``taken`` (_assemble_yielding adds that at its end).
    classes: TCP, IPv4, IPv6, CaptureInfo, Chunk, Side, Connection, StreamStats,
    AssemblerStats (whose slots it reads). Called with a packet it takes the packet and
    returns True, or returns False having changed nothing."""
    if _ext is None:
        return None
    try:
        return _ext.InOrderPath(assembler, count, *classes)
    except TypeError:  # a subclass that keeps _recent, _sides or _conns otherwise: Python's
        return None


def chain_decoder(first: type, instances: dict, payload: type | None, decoded: list,
                  state: Any, fallback: Callable[[Any], list]) -> Callable[[Any], list]:
    """A Parser's decode_layers: the compiled one over the same state when there is one
    (fallback takes buffers it does not read: an unusual memoryview), else fallback."""
    if _ext is None:
        return fallback
    return _ext.ChainDecoder(first, instances, payload, decoded, state, fallback)


def decoder_of(cls: type) -> str:
    """How a layer class decodes: ``"compiled"`` (its program as C in the extension),
    ``"interpreted"`` (its program in the extension's interpreter: a user's .layer file, or a
    built-in one edited since the extension was built), or ``"python"`` with the reason."""
    fast = cls.__dict__.get("_fast")
    if fast is not None:
        if cls.__dict__.get("_decode") is not fast.decode:
            return "python (its _decode was replaced after the class was made)"
        return "compiled" if fast.native else "interpreted"
    if cls.__dict__.get("_PROGRAM") is None:
        if any(base.__dict__.get("_PROGRAM") is not None for base in cls.__mro__[1:]):
            return "python (a subclass: a program decodes only the class it was made for)"
        if getattr(cls, "FORMAT", None) is None:
            return "python (a layer written in Python)"
        return "python (its decoder uses what programs do not have: see docs/FASTPATH.md)"
    if _ext is None:
        return "python (the compiled loop is " + (
            "turned off by PKTSPEC_PURE)" if BUILT else "not built)")
    refused = cls.__dict__.get("_fast_refused")
    return f"python ({refused})" if refused else "python"


def status(layers: list[type]) -> str:
    """One line on the decode loop for ``pktspec --version``."""
    if _ext is None:
        why = "turned off by PKTSPEC_PURE" if BUILT else "extension not built"
        return f"decode loop: pure Python ({why})"
    kinds = [decoder_of(cls) for cls in layers]
    return (f"decode loop: compiled; layers: {kinds.count('compiled')} compiled, "
            f"{kinds.count('interpreted')} interpreted, "
            f"{len(kinds) - kinds.count('compiled') - kinds.count('interpreted')} in Python")


def run_program(cls: type, layer: Any, buf: Any, off: int, end: int) -> Any:
    """Run cls's program alone on layer: the next class, or :data:`ABORT` (tests)."""
    if _ext is None or getattr(cls, "_fast", None) is None:
        raise RuntimeError(f"{cls.__name__} has no compiled program")
    return _ext.run(cls._fast, layer, buf, off, end)


ABORT: Any = _ext.ABORT if _ext is not None else object()
"""What run_program returns when the program hands the layer back to Python."""
