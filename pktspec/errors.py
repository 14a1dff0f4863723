"""The one exception hierarchy of pktspec.

Every error pktspec raises derives from :class:`PktspecError`, so a caller can catch them all
in one place. Each class carries its coordinates as data (a .layer file position, a byte offset
in a packet, a byte offset and record number in a capture file), because a message without a
position is the first thing users complain about in other tools.
"""

from __future__ import annotations

from dataclasses import dataclass


class PktspecError(Exception):
    """Base class of every pktspec error."""


@dataclass(frozen=True)
class Location:
    """A position in a .layer file: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SpecError(PktspecError):
    """A .layer file is wrong: it says where, what was expected and, when it can, the fix.

    ``problems`` holds every problem the checker found (itself included), so that one run
    reports all of a file's errors at once.
    """

    def __init__(
        self,
        location: Location | None,
        message: str,
        hint: str | None = None,
        source: str | None = None,
        problems: list[SpecError] | None = None,
    ) -> None:
        self.location = location
        self.message = message
        self.hint = hint
        self.source = source
        self.problems = problems if problems is not None else [self]
        super().__init__(self.render())

    def context(self, text: str | None = None) -> str:
        """The offending line with a caret under the column (like lark's get_context)."""
        text = text if text is not None else self.source
        if not text or self.location is None:
            return ""
        lines = text.splitlines()
        if not 1 <= self.location.line <= len(lines):
            return ""
        line = lines[self.location.line - 1].expandtabs(1)
        caret = " " * max(self.location.column - 1, 0) + "^"
        return f"    {line}\n    {caret}"

    def render_one(self) -> str:
        return _render(self, "error")

    def render(self) -> str:
        return "\n".join(p.render_one() for p in self.problems)


class SpecWarning(UserWarning):
    """A .layer file that checks but says something that will not take effect (a binding into
    a table no layer dispatches on). ``pktspec check`` prints it without failing; loading
    issues it through the :mod:`warnings` module. Located and rendered like a SpecError."""

    def __init__(self, location: Location | None, message: str, hint: str | None = None,
                 source: str | None = None) -> None:
        self.location = location
        self.message = message
        self.hint = hint
        self.source = source
        super().__init__(self.render())

    context = SpecError.context

    def render(self) -> str:
        return _render(self, "warning")


def _render(problem: SpecError | SpecWarning, severity: str) -> str:
    """``file:line:col: error: message``, the line with a caret, and the hint: how every
    problem in a .layer file is shown, errors and warnings alike."""
    where = f"{problem.location}: " if problem.location else ""
    out = f"{where}{severity}: {problem.message}"
    ctx = problem.context()
    if ctx:
        out += "\n" + ctx
    if problem.hint:
        out += f"\n    hint: {problem.hint}"
    return out


class DecodeError(PktspecError):
    """Packet bytes that do not decode. Kept as data in ``packet.error``; raised in strict mode.

    ``field_path`` reads like construct's paths (``IPv4 -> options -> 2``); ``offset`` is the
    byte offset in the packet where the problem was found.
    """

    def __init__(
        self,
        layer: str,
        field_path: str,
        offset: int,
        message: str,
        truncated: bool = False,
    ) -> None:
        self.layer = layer
        self.field_path = field_path
        self.offset = offset
        self.message = message
        self.truncated = truncated
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.layer} -> {self.field_path}" if self.field_path else self.layer
        return f"{where} at byte {self.offset}: {self.message}"


class BuildError(PktspecError):
    """A layer could not be serialized (a value out of range, a missing field, ...)."""


class CaptureError(PktspecError):
    """A capture file or interface is unusable: the path, byte offset and record number say where."""

    def __init__(
        self,
        message: str,
        path: str | None = None,
        offset: int | None = None,
        record: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.offset = offset
        self.record = record
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.path,) if p]
        if self.offset is not None:
            parts.append(f"offset {self.offset}")
        if self.record is not None:
            parts.append(f"record {self.record}")
        where = ", ".join(parts)
        return f"{where}: {self.message}" if where else self.message


class LiveCaptureError(CaptureError):
    """Live capture failed: no permission, no such interface, no libpcap, a bad BPF filter."""


class FilterError(CaptureError):
    """A BPF filter expression did not compile; the message is libpcap's."""


class DisplayFilterError(PktspecError):
    """A display filter or a ``-e`` field that does not parse or names what no layer has:
    the column, the text and a caret, whichever phase (parsing, names, literals) found it."""

    def __init__(self, text: str, column: int, message: str,
                 what: str = "display filter") -> None:
        self.text, self.column, self.message = text, column, message
        caret = " " * (column - 1) + "^"
        super().__init__(f"{what}, column {column}: {message}\n    {text}\n    {caret}")
