"""The grammar of display-filter text and its LALR parser, and the syntax errors it reports.

The grammar is tshark's (``and``/``&&``, ``eq``/``==``, ``in {..}``, slices, ``matches``);
the parser is built once, when this package is first imported (``import pktspec`` does not
import it). Lark's own exceptions stop here: a caller gets a :class:`DisplayFilterError`.
"""

from __future__ import annotations

from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedInput

from pktspec.errors import DisplayFilterError

_GRAMMAR = r"""
?start: or_
?or_: and_ (OR and_)*
?and_: not_ (AND not_)*
?not_: NOT not_ -> negate
     | atom
?atom: "(" or_ ")"
     | operand CMP value          -> compare
     | operand CONTAINS value     -> contains
     | operand MATCHES STRING     -> matches
     | operand IN "{" item ("," ? item)* "}"  -> member
     | operand                    -> present
?operand: ref
        | ref BITAND LITERAL      -> masked
ref: NAME ("." NAME)* slice?
slice: "[" INT (":" INT)? "]"
?item: value | value RANGE value -> span
?value: STRING | LITERAL
OR.2: "or" | "||"
AND.2: "and" | "&&"
NOT.2: "not" | "!"
CONTAINS.2: "contains"
MATCHES.2: "matches" | "~"
IN.2: "in"
BITAND: "&"
CMP.2: "==" | "!=" | "<=" | ">=" | "<" | ">" | /(eq|ne|lt|le|gt|ge)(?![A-Za-z0-9_])/
RANGE.2: ".."
INT.3: /[0-9]+/
NAME: /[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*/
LITERAL: /[A-Za-z0-9_:\/+-]+(\.[A-Za-z0-9_:\/+-]+)*/
STRING: /"(\\.|[^"\\])*"/
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


_TOKEN_WORDS = {"LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "DOT": "'.'",
                "NAME": "a layer or field name", "NOT": "'not'", "AND": "'and'", "OR": "'or'",
                "CMP": "a comparison (== != < <= > >=)", "CONTAINS": "'contains'", "IN": "'in'",
                "MATCHES": "'matches'", "BITAND": "'&'",
                "COMMA": "','", "RANGE": "'..'", "LSQB": "'['", "RSQB": "']'",
                "COLON": "':'", "INT": "a byte offset",
                "LITERAL": "a value", "STRING": "a \"string\"", "$END": "the end"}
"""How the parser's token names read in an error message."""


def parse_filter(text: str) -> Any:
    """The parse tree of a display filter; a mistake is a DisplayFilterError at its column,
    and so is a tree nested deeper than MAX_DEPTH."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        expected = getattr(exc, "expected", None) or getattr(exc, "allowed", ()) or ()
        words = sorted({_TOKEN_WORDS.get(t, t) for t in expected})
        hint = f"; expected {', '.join(words)}" if words else ""
        token = getattr(exc, "token", None)
        at_end = exc.column <= 0 or getattr(token, "type", None) == "$END"
        raise DisplayFilterError(text, len(text.rstrip()) + 1 if at_end else exc.column,
                                 ("the filter ends too soon" if at_end else "unexpected input")
                                 + hint) from None
    _check_depth(text, tree)
    return tree


MAX_DEPTH = 100
"""Most nested operators a filter may have (as .layer expressions): deeper ones are refused,
not left to overflow Python's stack while compiling or evaluating."""


def _check_depth(text: str, tree: Any) -> None:
    """Refuse a tree nested deeper than MAX_DEPTH, measured without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            column = getattr(getattr(node, "meta", None), "column", None) or 1
            raise DisplayFilterError(text, column, f"more than {MAX_DEPTH} nested operators")
        stack += [(child, depth + 1) for child in getattr(node, "children", ())
                  if not isinstance(child, Token)]
