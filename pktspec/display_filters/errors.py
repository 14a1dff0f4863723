"""The one error a display filter or a ``-e`` field raises, with the column and a caret.

Every phase (parsing, resolving names, reading literals) reports through it, so it sits apart
from them all; it is a :class:`pktspec.errors.PktspecError` like every pktspec error.
"""

from __future__ import annotations

from pktspec.errors import PktspecError


class DisplayFilterError(PktspecError):
    """A display filter that does not parse or names what no layer has."""

    def __init__(self, text: str, column: int, message: str,
                 what: str = "display filter") -> None:
        self.text, self.column, self.message = text, column, message
        caret = " " * (column - 1) + "^"
        super().__init__(f"{what}, column {column}: {message}\n    {text}\n    {caret}")
