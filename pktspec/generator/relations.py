"""Phase 3, the builder's part of a layer's plan: defaults and length/checksum relations.

What a .layer file says the builder fills in (``total_length: u16 = len(header) +
len(payload)``, ``checksum: u16 = inet_checksum(pseudo_header, header, payload)``), what it
implies (``header = ihl * 4`` makes ``ihl`` a length), the header boundary in build form and
the pseudo-header an IP layer offers the layers above it, compiled into the lambdas and
tables of a generated class (``DEFAULTS``, ``RELATIONS``, ``HEADER``, ``PSEUDO_HEADER``,
``NEXT``). A mixin of layout.UnitPlanner: it reads the unit being planned.
"""

from __future__ import annotations

from pktspec.generator.check import _NotConstant, checksum_call
from pktspec.generator.pyexpr import PyExpr, expr_text, names_in
from pktspec.grammar import ast
from pktspec.runtime.constructs import BUILTIN_CHECKSUM_BITS

# checksum functions that generated modules import by name (the others: _checksum(name))
_DIRECT = frozenset({"inet_checksum", "crc32", "crc32c"})


class BuildRelations:
    """The builder relations of one layer (mixed into UnitPlanner)."""

    def defaults_and_relations(self) -> tuple[list[tuple[str, str]], list[str]]:
        defaults, relations = [], []
        build = self.build()
        for cf in self.unit.fields:
            node = cf.node
            if node.default is not None:
                defaults.append((cf.name, self.fast_const(node.default)))
            elif node.check is not None:
                defaults.append((cf.name, self.fast_const(node.check)))
            if node.value is not None:
                kind = "checksum" if self.is_checksum(node.value) else "length"
                relations.append(f"({cf.name!r}, {kind!r}, lambda c: {build(node.value)}),")
        relations += [f"({name!r}, 'length', lambda c: {expr})," for name, expr in
                      self.implied_lengths()]
        return defaults, relations

    def build(self) -> PyExpr:
        return PyExpr(self.build_name, self.build_attr, None, self.build_call)

    def implied_lengths(self) -> list[tuple[str, str]]:
        """Length fields the builder fills although the file gives them no `= expr`: the
        field a boundary or an array bound is made of (``header = ihl * 4`` gives
        ``ihl = ceil(len(header) / 4)``, ``items: Item[count]`` gives ``count =
        len(items)``), solved when the bound is linear in one such field."""
        if self.unit.kind != "layer":
            return []
        bounds = [(self.unit.header, "c._header_len"), (self.unit.payload, "c._payload_len")]
        for cf in self.unit.fields:
            t = cf.ftype
            bound = t.count if t.kind == "array" else t.size if t.kind == "bytes" else None
            if bound is not None:
                bounds.append((bound, f"len(c.{cf.name} or ())"))
            elif t.sized is not None or t.array_size is not None:  # `T[] size n`: its bytes
                bounds.append((t.sized if t.sized is not None else t.array_size,
                               f"_part_size({self.unit.name}, {cf.name!r}, c.{cf.name}, c)"))
        solved: list[tuple[str, str]] = []
        taken = {cf.name for cf in self.unit.fields if cf.node.value is not None}
        for expr, measured in bounds:
            free = [n for n in sorted(names_in(expr)) if n not in taken and
                    (cf := self.unit.field(n)) is not None and cf.ftype.kind == "int"]
            if expr is None or len(free) != 1:
                continue
            linear = self.linear(expr, free[0])
            if linear is None or linear[0] <= 0:
                continue
            solved.append((free[0], _solve(measured, *linear)))
            taken.add(free[0])
        return solved

    def struct_lengths(self) -> dict[str, str]:
        """A struct's length fields that the builder fills, as construct Default lambdas.

        Inside a struct there is no layer relation to run, so a length the file implies
        (``length: u8`` before ``value: ... size length - 2``; ``count`` before
        ``items: Item[count]``) becomes ``Default(<int>, lambda this: ...)`` in the struct's
        construct: parsing is unchanged, and building solves the bound for the length from
        the part as given, when the user left the length out (a length given is kept, so
        crafted packets stay possible). Solved like implied_lengths: bounds linear in one
        integer field and in nothing else.
        """
        if self.unit.kind != "struct":
            return {}
        taken = {cf.name for cf in self.unit.fields if cf.node.value is not None}
        seen: set[str] = set()
        solved: dict[str, str] = {}
        for cf in self.unit.fields:
            seen.add(cf.name)
            t = cf.ftype
            # this.get: a part the user left out is not in the context at all
            value = f"this.get({cf.name!r})"
            part = f"_built_size(this._subcons[{cf.name!r}], {value}, this)"
            if t.sized is not None:
                bound, measured = t.sized, part
            elif t.kind == "array" and t.array_size is not None:
                bound, measured = t.array_size, part
            elif t.kind == "array" and t.count is not None:
                bound, measured = t.count, f"len({value} or ())"
            elif t.kind == "bytes" and t.size is not None and t.bits is None:
                # an addr[n] may be given as text: measured as the bytes it stands for
                bound, measured = t.size, part if t.addr == "any" else f"len({value} or b'')"
            else:
                continue
            names = names_in(bound)
            if len(names) != 1:
                continue
            (name,) = names
            length = self.unit.field(name)
            if name in taken or name in solved or name not in seen or length is None or \
                    length.ftype.kind != "int" or not length.ftype.is_scalar:
                continue
            linear = self.linear(bound, name)
            if linear is None or linear[0] <= 0:
                continue
            a, b = linear
            solved[name] = _solve(measured, a, b)
        return solved

    def linear(self, e: ast.Expr, name: str) -> tuple[int, str | None] | None:
        """``e`` as ``a * name + b``: (a, Python source of b or None), or None when it is not
        linear in name (b may read other fields)."""
        if name not in names_in(e):
            source = self.build()(e)
            return 0, None if source == "0" else source
        if isinstance(e, ast.Name):
            return 1, None
        if not isinstance(e, ast.BinOp) or e.op not in ("+", "-", "*"):
            return None
        left, right = self.linear(e.left, name), self.linear(e.right, name)
        if left is None or right is None:
            return None
        if e.op == "*":
            (a, b), other = (left, e.right) if left[0] else (right, e.left)
            if name in names_in(other):
                return None  # name * name
            try:
                k = self.mod.const_int(other)
            except _NotConstant:
                return None
            return a * k, f"({b} * {k})" if b else None
        sign = "+" if e.op == "+" else "-"
        a = left[0] + right[0] if e.op == "+" else left[0] - right[0]
        bl, br = left[1], right[1]
        if bl and br:
            return a, f"({bl} {sign} {br})"
        if br:
            return a, br if sign == "+" else f"(-{br})"
        return a, bl

    def build_info(self) -> list[str]:
        """What the builder needs beyond the relations: the header length (to pad a header
        to it), the pseudo-header this layer gives the checksums of layers inside it, and
        the fields the next-layer rule reads (to fill them from the layer stacked on top)."""
        if self.unit.kind != "layer":
            return []
        out, build = [], self.build()
        h = self.unit.header
        fields = {cf.name for cf in self.unit.fields}
        if h is not None and names_in(h) <= fields | set(self.mod.checked.consts):
            out.append(f"HEADER = staticmethod(lambda c: {build(h)})")
        if self.unit.pseudo_header is not None:
            out.append(f"PSEUDO_HEADER = staticmethod(lambda c: {build(self.unit.pseudo_header)})")
        if self.unit.quotes:  # what follows is another packet's copy (an ICMP error's)
            out.append("QUOTES = True")
        if self.unit.payload is None:  # no `payload = ...`: a message would run to the end of
            out.append("FRAMED = False")   # the stream, so messages() does not pick it by port
        optional = tuple(cf.name for cf in self.unit.fields if cf.node.optional)
        if optional:  # 0 means "no checksum"; a computed 0 is sent as all ones (RFC 768)
            out.append(f"OPTIONAL_CHECKSUMS = {optional!r}")
        names = self.next_fields()
        if names:
            out.append(f"NEXT = ({self.unit.next_table!r}, {tuple(names)!r})")
        unless = self.next_unless()
        if unless is not None:
            if unless[2] == "len(payload)":  # with the condition the length must meet
                test = self.unit.next.unless
                out.append(f"NEXT_UNLESS = ({unless[0]!r}, {unless[1]!r}, 'len(payload)', None, "
                           f"lambda c: {self.build()(test)}, {expr_text(test)!r})")
            else:
                out.append(f"NEXT_UNLESS = {unless!r}")
        when = self.checked_when()
        if when:
            out += ["CHECKED_WHEN = {", *[f"    {n!r}: lambda c: {t}," for n, t in when], "}"]
        conditions = self.conditions()  # (also works out computed_lengths)
        if conditions:
            out += ["CONDITIONS = (", *[f"    {c!r}," for c in conditions], ")"]
        rules = self.next_rules()
        if rules:
            out += ["NEXT_RULES = (",
                    *[f"    ({t!r}, {f!r}, {'None' if test is None else 'lambda c: ' + test}, "
                      f"{ways!r})," for t, f, test, ways in rules], ")"]
        return out

    def conditions(self) -> list[tuple[str, str, tuple]]:
        """Each conditional field with its condition as written and the ways of making the
        condition hold that the builder may take when the field is given and the fields the
        condition reads are not: ``(field, text, alternatives)``, each alternative a tuple
        of ``(controlling field, "|" or "=", value)`` (OR the value in, or set the field to
        it). ``present.tsft`` gives ``(('present', '|', 1),)``; ``x & 4 != 0`` and ``x & 4
        == 4`` give ``(('x', '|', 4),)``; ``x == 1`` gives ``(('x', '=', 1),)``; ``a and b``
        one alternative with both; ``a or b`` the alternatives of each. A part of the
        condition of another form gives nothing (the builder then checks it as it is)."""
        if self.unit.kind == "struct":  # (a struct's: CondStruct; its lengths Defaults)
            self.computed_lengths = set(self.struct_lengths())
            return self.conditional_fields()
        if self.unit.kind != "layer":
            return []
        # fields the builder computes: lengths, and what the next layer's binding gives
        self.computed_lengths = {name for name, _ in self.implied_lengths()}
        self.computed_lengths.update(self.next_fields())
        unless = self.next_unless()
        if unless is not None:
            self.computed_lengths.add(unless[0])
        return self.conditional_fields()

    def conditional_fields(self) -> list[tuple[str, str, tuple]]:
        out = []
        for cf in self.unit.fields:
            cond = cf.node.cond
            if cond is None or cf.name in self.computed_lengths:
                continue
            out.append((cf.name, expr_text(cond), tuple(self.ways(cond))))
        return out

    def ways(self, e: ast.Expr) -> list[tuple[tuple[str, str, int], ...]]:
        """The alternatives of conditions(): each a conjunction of settings that makes e
        true (empty when there is none this can derive)."""
        if isinstance(e, ast.BinOp) and e.op == "or":
            return self.ways(e.left) + self.ways(e.right)
        if isinstance(e, ast.BinOp) and e.op == "and":
            left, right = self.ways(e.left) or [()], self.ways(e.right) or [()]
            both = [a + b for a in left for b in right if a + b]
            return both
        setting = self.setting(e)
        return [(setting,)] if setting is not None else []

    def setting(self, e: ast.Expr) -> tuple[str, str, int] | None:
        """``(field, "|" or "=", value)`` that makes one simple condition true, or None."""
        if isinstance(e, ast.Attr) and isinstance(e.obj, ast.Name):  # flagset.name
            cf = self.controlling(e.obj)
            if cf is not None and cf.ftype.kind == "flags" and e.name in cf.ftype.flag_names:
                return cf.name, "|", 1 << (cf.ftype.bits - 1 - cf.ftype.flag_names.index(e.name))
            return None
        if not isinstance(e, ast.BinOp) or e.op not in ("==", "!="):
            return None
        left, right = e.left, e.right
        if self.constant(left) is not None:
            left, right = right, left
        k = self.constant(right)
        if k is None:
            return None
        if isinstance(left, ast.BinOp) and left.op == "&":  # x & MASK != 0, x & MASK == MASK
            x, mask = left.left, self.constant(left.right)
            if mask is None:
                x, mask = left.right, self.constant(left.left)
            cf = self.controlling(x)
            if cf is None or mask is None or mask <= 0:
                return None
            if (e.op == "!=" and k == 0) or (e.op == "==" and k == mask):
                return cf.name, "|", mask
            return None
        cf = self.controlling(left)
        if e.op == "==" and cf is not None and k >= 0:
            return cf.name, "=", k
        return None

    def controlling(self, e: ast.Expr):
        """The field e names, when the builder may set it: an integer, enum or flag set
        that no relation computes (the field of a condition, not itself conditional)."""
        if not isinstance(e, ast.Name):
            return None
        cf = self.unit.field(e.name)
        if cf is None or cf.node.value is not None or cf.node.cond is not None or \
                cf.name in self.computed_lengths or \
                cf.ftype.kind not in ("int", "enum", "flags") or not cf.ftype.is_scalar:
            return None
        return cf

    def constant(self, e: ast.Expr) -> int | None:
        if names_in(e) and not isinstance(e, ast.Attr):
            return None
        try:
            return self.mod.const_int(e)
        except _NotConstant:
            return None

    def next_rules(self) -> list[tuple[str, tuple[str, ...], str | None, tuple]]:
        """``(table, fields, test, settings)`` for each ``next by`` rule, in order, when a
        layer has several or one with ``if cond`` ([] otherwise: NEXT says it all). The
        builder takes the first rule whose table binds the layer on top and whose condition
        holds or can be made to hold without changing a field that was given: it fills the
        rule's fields from the binding and sets the fields its condition reads (settings,
        as in CONDITIONS: ``oui == OUI.Cisco`` gives ``(('oui', '=', 12),)``). test is the
        condition over the values (None: none). ``next Layer if cond`` rules only decode."""
        rules = [(r, t) for r, t in self.unit.nexts if isinstance(r, ast.NextBy)]
        if len(rules) < 2 and not any(rule.when is not None for rule, _ in rules):
            return []
        out = []
        for rule, table in rules:
            if table is None:
                continue
            ways = self.ways(rule.when) if rule.when is not None else []
            test = self.build()(rule.when) if rule.when is not None else None
            out.append((table, tuple(self.next_fields(rule)), test, ways[0] if ways else ()))
        return out

    def next_fields(self, nxt: ast.NextBy | ast.NextFixed | None = None) -> list[str]:
        """The fields ``next by`` reads (the first rule's, or nxt's), which the builder
        fills from the binding of the layer stacked on top."""
        table = self.unit.next_table
        if nxt is None:
            nxt = self.unit.next
        else:
            table = next((t for r, t in self.unit.nexts if r is nxt), None)
        names: list[str] = []
        if isinstance(nxt, ast.NextBy) and table is not None:
            fields = {cf.name for cf in self.unit.fields}
            for e in nxt.exprs:
                args = e.args if isinstance(e, ast.Call) and e.func in ("min", "max") else (e,)
                for a in args:
                    if isinstance(a, ast.Name) and a.name in fields and a.name not in names:
                        names.append(a.name)
        return names

    def next_unless(self) -> tuple[str, str, int | str | None, int | None] | None:
        """What ``next by ... unless field == K -> Layer`` says the builder must write in
        field: (field, Layer, value when the next layer is Layer, value when it is not), a
        value None where the rule does not decide it. MPLS's ``unless stack_bottom == 0 ->
        MPLS`` gives ('stack_bottom', 'MPLS', 0, 1): only the last label is the bottom.
        Ethernet's ``unless ethertype <= 1500 -> LLC`` gives ('ethertype', 'LLC',
        'len(payload)', None): the payload's length before LLC (payload_length_unless)."""
        nxt = self.unit.next
        if not isinstance(nxt, ast.NextBy) or nxt.unless is None or nxt.instead is None:
            return None
        e = nxt.unless
        length = self.payload_length_unless(e)
        if length is not None:
            return length, nxt.instead, "len(payload)", None
        if not isinstance(e, ast.BinOp) or e.op not in ("==", "!="):
            return None
        name, other = (e.left, e.right) if isinstance(e.left, ast.Name) else (e.right, e.left)
        cf = self.unit.field(name.name) if isinstance(name, ast.Name) else None
        if cf is None or cf.ftype.kind != "int" or cf.node.value is not None:
            return None
        try:
            k = self.mod.const_int(other)
        except _NotConstant:
            return None
        flipped = 1 - k if cf.ftype.bits == 1 and k in (0, 1) else None
        if e.op == "==":
            return cf.name, nxt.instead, k, flipped
        return cf.name, nxt.instead, flipped, k

    def payload_length_unless(self, e: ast.Expr) -> str | None:
        """The field that is the payload's length exactly when the ``unless`` condition
        holds, or None: Ethernet's ``payload = ethertype <= 1500 ? ethertype : remaining``
        with ``next by ethertype unless ethertype <= 1500 -> LLC``. Before LLC the builder
        then writes the payload's length there (an 802.3 frame), else the binding's value."""
        payload = self.unit.payload
        if not isinstance(payload, ast.Cond) or not isinstance(payload.then, ast.Name):
            return None
        if expr_text(payload.test) != expr_text(e):
            return None
        cf = self.unit.field(payload.then.name)
        if cf is None or cf.node.value is not None or cf.name not in self.next_fields():
            return None
        return cf.name

    def checked_when(self) -> list[tuple[str, str]]:
        """(field, test) for each checksum written as ``c ? checksum(...) : K``: the sender
        computed it only when the test holds (GRE's C bit), so verify_checksums checks it
        only then, rather than calling K a bad checksum."""
        out = []
        build = self.build()
        for cf in self.unit.fields:
            e = cf.node.value
            call = checksum_call(e, self.mod.checked.checksums)
            if not isinstance(e, ast.Cond) or call is None:
                continue
            test = build(e.test)
            out.append((cf.name, test if call is e.then else f"not ({test})"))
        return out

    def is_checksum(self, e: ast.Expr) -> bool:
        return checksum_call(e, self.mod.checked.checksums) is not None

    def fast_const(self, e: ast.Expr) -> str:
        try:
            return repr(self.mod.const_int(e))
        except _NotConstant:
            return "None"

    def build_name(self, name: str) -> str:
        special = {"header": "c._header", "payload": "c._payload",
                   "pseudo_header": "c._pseudo_header", "upper_length": "c._upper_length",
                   "upper_protocol": "c._upper_protocol"}
        if name in special:
            return special[name]
        if self.unit.field(name) is not None or any(
                isinstance(m, ast.Let) and m.name == name for m in self.unit.members):
            return f"c.{name}"
        return self.mod.global_name(name)

    def build_attr(self, e: ast.Attr) -> str | None:
        return self.member_attr(self.build(), self.build_name, e)

    def build_call(self, e: ast.Call) -> str | None:
        if e.func in ("len", "sizeof") and isinstance(e.args[0], ast.Name) and \
                e.args[0].name in ("header", "payload") and \
                self.unit.field(e.args[0].name) is None:
            return f"c._{e.args[0].name}_len"
        if e.func == "sizeof" and isinstance(e.args[0], ast.Name):
            # a part's bytes as built (in a struct: as built so far, FORMAT's Tells)
            name = e.args[0].name
            if self.unit.kind == "struct":
                return self.sizeof(name, self.build(), f"(c._e_{name} - c._s_{name})")
            return self.sizeof(name, self.build(),
                               f"_part_size({self.unit.name}, {name!r}, c.{name}, c)")
        build = self.build()
        if e.func in self.mod.checked.checksums and e.func not in _DIRECT:
            # looked up by name in the runtime's registry when the relation runs: a user's
            # function (`extern checksum`) with the width its file declared
            args = ", ".join(build(a) for a in e.args)
            user = e.func not in BUILTIN_CHECKSUM_BITS
            bits = f", {self.mod.checked.checksums[e.func]}" if user else ""
            return f"_checksum({e.func!r}{bits})({args})"
        if e.func == "concat":  # the checker saw that every part is bytes
            return "b''.join((" + "".join(f"{build(a)}, " for a in e.args) + "))"
        if e.func == "take":  # the first n bytes (a slice stops at the end by itself)
            return f"bytes({build(e.args[0])})[:max(0, {build(e.args[1])})]"
        if e.func in ("u8", "u16", "u24", "u32", "u64"):
            bits = int(e.func[1:])
            try:  # a constant is written as its bytes
                return repr((self.mod.const_int(e.args[0]) & ((1 << bits) - 1)).to_bytes(
                    bits // 8, self.unit.endian))
            except _NotConstant:
                pass
            return (f"({build(e.args[0])} & {(1 << bits) - 1:#x}).to_bytes({bits // 8}, "
                    f"{self.unit.endian!r})")
        return None


def _solve(measured: str, a: int, b: str | None) -> str:
    """``name`` from ``measured = a * name + b``, rounded up: Python source."""
    try:
        k = int(b.strip("()")) if b else 0
    except ValueError:
        rest = f"{measured} - {b}"
    else:
        rest = measured if k == 0 else f"{measured} + {-k}" if k < 0 else f"{measured} - {k}"
    return f"({rest} + {a - 1}) // {a}" if a > 1 else rest
