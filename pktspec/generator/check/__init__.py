"""Phase 2: check. Give every field its semantic type and find every mistake in a Program.

The checker reports all problems of all files at once (a SpecError whose ``problems`` lists
them), each at file:line:column with a hint. It catches unknown names (with "did you mean"),
names that are not safe Python identifiers, type errors in expressions, fields used before
they are decoded, fields that can never be reached, bit fields that do not end on a byte, flows
over mismatched fields, divisors that are a constant zero, and overlapping bindings. What
passes is safe to emit: every name that reaches generated code has been validated here.
A binding into a table no layer dispatches on passes with a warning (SpecWarning).

    checked.py       what the phase hands on: Unit, CField, CEnum, Bind, Checked
    checker.py       the Checker: state, reporting, the order of the checks; check()
    declarations.py  extern checksums, constants, enums, extend, bindings and their overlaps
    units.py         a layer or struct as a whole: members, bit fields, align, trailer
    fields.py        one field: its name, condition, '==', 'default' and build value
    field_types.py   a field's type: bytes, bits, switch, arrays, named types
    statements.py    header/payload boundaries, pseudo_header, flow, guard, quotes, next
    summaries.py     'summary "..." if cond;': the text's pieces and field paths
    expressions.py   the type of every expression and the names it may read
    constants.py     constant integer expressions, without eval()

    from pktspec.generator.check import check
    checked = check(program)                # raises SpecError listing every problem

The Checker is one class made of the mixins above; this package re-exports the names the
rest of the generator imports from it.
"""

from pktspec.generator.check.checked import (
    BUILD_FUNCS,
    CHECKSUM_BITS,
    Bind,
    CEnum,
    CField,
    Checked,
    Unit,
)
from pktspec.generator.check.checker import Checker, check, valid_identifier
from pktspec.generator.check.constants import _const_eval as _const_eval
from pktspec.generator.check.constants import _NotConstant as _NotConstant
from pktspec.generator.check.expressions import (
    BUILTIN_FUNCS,
    BYTES_FUNCS,
    MAX_EXPR_DEPTH,
    PSEUDO_NAMES,
    SPECIAL_NAMES,
)
from pktspec.generator.check.fields import checksum_call
from pktspec.generator.check.statements import BOUNDARIES
from pktspec.generator.check.units import (
    LAYER_CLASSES,
    RESERVED,
    element_bytes,
    expr_key,
)

__all__ = [
    "BOUNDARIES", "BUILD_FUNCS", "BUILTIN_FUNCS", "BYTES_FUNCS", "CHECKSUM_BITS",
    "LAYER_CLASSES", "MAX_EXPR_DEPTH", "PSEUDO_NAMES", "RESERVED", "SPECIAL_NAMES", "Bind",
    "CEnum", "CField", "Checked", "Checker", "Unit", "check", "checksum_call", "element_bytes",
    "expr_key", "valid_identifier",
]
