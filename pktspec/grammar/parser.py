"""Parse .layer text into the typed AST, with diagnostics that point at the problem.

The grammar is loaded once from package data (pktspec.lark). lark's UnexpectedInput never
escapes: it becomes a SpecError that names file:line:column, shows the line with a caret, lists
what was expected in the language's own words and, where the mistake is a common one, the fix.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from pktspec.errors import Location, SpecError
from pktspec.grammar import ast
from pktspec.grammar.transform import ToAst

# The classes a layer may name (`layer Foo : application {`): the checker refuses others, and
# the parser's hint for a layer written without one lists them.
LAYER_CLASSES = ("link", "network", "transport", "application", "other")

# How lark's terminal names read to a person.
_TERMINAL_WORDS = {
    "NAME": "a name", "INT": "a number", "STRING": "a string", "SEMICOLON": "';'",
    "COLON": "':'", "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'",
    "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "EQUAL": "'='", "DOC_LINE": "a ## doc line",
    "ENDIAN": "'big' or 'little'",
}


@lru_cache(maxsize=1)
def grammar() -> Lark:
    """The LALR parser for pktspec.lark (built once per process)."""
    return Lark.open_from_package(
        "pktspec.grammar", "pktspec.lark",
        parser="lalr", propagate_positions=True, maybe_placeholders=True,
    )


def parse(text: str, file: str = "<string>") -> ast.Module:
    """Parse one .layer file's text. Raises SpecError on a syntax error."""
    try:
        tree = grammar().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file) from None
    except RecursionError:
        raise _too_deep(text, file) from None
    try:
        decls = ToAst(file).transform(tree)
    except RecursionError:
        raise _too_deep(text, file) from None
    except VisitError as exc:  # a literal the grammar admits but Python cannot read (0x_)
        token = next((t for t in exc.obj.scan_values(lambda v: isinstance(v, Token))), None)
        where = Location(file, getattr(token, "line", 1) or 1, getattr(token, "column", 1) or 1)
        hint = "numbers are decimal, 0x.. or 0b.." if getattr(token, "type", "") == "INT" \
            else "strings take Python's escapes (\\r, \\n, \\x00, ...)"
        raise SpecError(where, f"cannot read {str(token)!r}: {exc.orig_exc}", source=text,
                        hint=hint) from None
    return ast.Module(file=file, source=text, decls=decls)


# Tokens that nest an expression one level deeper: a statement with very many of them is the
# one that made the parser run out of stack.
_NESTING = frozenset("+-*/%&|^~<>=!?:(,") | {"and", "or", "not"}


def _too_deep(text: str, file: str) -> SpecError:
    """A statement nested so deep that parsing it exhausted Python's stack (500 terms of
    `x+x+...`): located at the start of the statement with the most operators, if the text
    lexes, else at 1:1."""
    where = Location(file, 1, 1)
    try:
        best, start, ops = 0, None, 0
        for token in grammar().lex(text):
            value = str(token)
            if value in (";", "{", "}"):
                if start is not None and ops > best:
                    best, where = ops, Location(file, start.line, start.column)
                start, ops = None, 0
                continue
            if start is None:
                start = token
            if value in _NESTING or value[:1] in _NESTING:  # (also ==, <<, ->, =>)
                ops += 1
        if start is not None and ops > best:
            where = Location(file, start.line, start.column)
    except (UnexpectedInput, RecursionError):
        pass
    return SpecError(where, "expression nested too deeply", source=text,
                     hint="split it with 'let' names (at most 100 levels of operators)")


# Terminals that continue an expression: a list of what was expected names them together.
_OPERATORS = frozenset({
    "+", "-", "*", "/", "//", "%", "&", "|", "^", "~", "<<", ">>", "==", "!=", "<", "<=",
    ">", ">=", "and", "or", "not", "?", ".", "["})


def _describe_expected(expected: set[str]) -> str:
    words = {_TERMINAL_WORDS.get(t, _literal(t)) for t in expected}
    operators = {w for w in words if w.strip("'") in _OPERATORS}
    if len(operators) > 2:  # after an expression: "';', or an operator" (not 20 symbols)
        words = sorted(words - operators) + ["an operator"]
    else:
        words = sorted(words)
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words)


def _acceptable(exc: UnexpectedToken) -> set[str]:
    """The terminals the parser would really take at the error: lark's ``expected`` holds
    every lookahead of the LALR state, some of which fail after a reduction (a ')' where no
    '(' is open). Falls back to ``expected`` when the parser state is not available."""
    parser = getattr(exc, "interactive_parser", None)
    if parser is not None:
        try:
            accepted = set(parser.accepts()) - {"$END"}
        except Exception:  # noqa: BLE001 (a diagnostic must not fail on lark's internals)
            accepted = set()
        if accepted:
            return accepted
    return set(exc.expected or ())


def _previous_end_line(exc: UnexpectedToken) -> int | None:
    """The line on which the text before the unexpected token ends (the last token or
    tree on the parser's stack)."""
    parser = getattr(exc, "interactive_parser", None)
    stack = getattr(getattr(parser, "parser_state", None), "value_stack", None) or []
    if not stack:
        return None
    last = stack[-1]
    line = getattr(last, "end_line", None)
    if line is None:
        meta = getattr(last, "meta", None)
        line = getattr(meta, "end_line", None) if meta is not None and not meta.empty else None
    return line


def _literal(terminal: str) -> str:
    """Anonymous terminals read as their text ('import', '==', '-')."""
    try:
        pattern = grammar().get_terminal(terminal).pattern
    except KeyError:
        return terminal
    if pattern.type == "str":
        return f"'{pattern.value}'"
    return terminal.lower()


def _syntax_error(exc: UnexpectedInput, text: str, file: str) -> SpecError:
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    hint = None
    if isinstance(exc, UnexpectedEOF):
        message = "unexpected end of file"
        expected = set(exc.expected)
        hint = "a '}' or ';' may be missing"
        line = text.count("\n") + 1
        column = len(text.rsplit("\n", 1)[-1]) + 1
    elif isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else "end of file"
        message = f"unexpected character {char!r}"
        expected = set(exc.allowed or ())
    else:
        assert isinstance(exc, UnexpectedToken)
        token = exc.token
        shown = "end of file" if token.type == "$END" else repr(str(token))
        message = f"unexpected {shown}"
        expected = _acceptable(exc)
        hint = _hint_for(exc, expected)
    if expected:
        message += f"; expected {_describe_expected(expected)}"
    return SpecError(Location(file, line, column), message, hint=hint, source=text)


def _hint_for(exc: UnexpectedToken, expected: set[str]) -> str | None:
    """Fixes for the mistakes people actually make."""
    if exc.token.type == "$END":
        return "a '}' may be missing at the end of the file"
    before = _previous_end_line(exc)
    if "SEMICOLON" in expected and before is not None and before < (exc.token.line or 0):
        # the statement went on to a new line that starts another one
        return f"missing ';' at the end of line {before}"
    if "SEMICOLON" in expected and exc.token.type in ("NAME", "RBRACE"):
        return "a ';' is missing at the end of the previous statement"
    if exc.token.type == "COLON" and "EQUAL" in expected:
        return "fields are declared as 'name: type;' inside a layer or struct body"
    if str(exc.token) in ("layer", "struct", "enum") and "RBRACE" in expected:
        return "a '}' is missing before this declaration"
    if _in_layer_head(exc, expected):
        return ("a layer names its class: layer Foo : application { ... } (one of: "
                + ", ".join(LAYER_CLASSES) + ")")
    return None


def _in_layer_head(exc: UnexpectedToken, expected: set[str]) -> bool:
    """Whether the parser stopped after `layer Name` (wanting ':') or `layer Name :` (wanting
    the class): a layer written without its class."""
    parser = getattr(exc, "interactive_parser", None)
    stack = getattr(getattr(parser, "parser_state", None), "value_stack", None) or []
    kinds = [getattr(v, "type", None) for v in stack[-3:]]
    return (kinds[-2:] == ["LAYER", "NAME"] and "COLON" in expected) or (
        kinds == ["LAYER", "NAME", "COLON"] and "NAME" in expected)
