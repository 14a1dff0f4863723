"""Per-class build functions compiled from a LayerPlan into straight-line Python.

Reading a layer's slots into a values dict, packing the prefix and filling a new layer are
done for every layer of every packet built; a loop over the plan's fields costs more than the
packing itself. So each is compiled once per class, from the plan, into a function with one
line per field (as dataclasses does for ``__init__``); :mod:`pktspec.runtime.build` falls back
to the generic loops when a compiler returns None.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pktspec.runtime.build import LayerPlan

__all__ = ["compile_init", "compile_pack", "compile_values", "safe_name"]

# The two per-packet steps are compiled once per class into straight-line functions, as
# dataclasses does for __init__: only identifiers the generator validated, repr()-ed names
# and names of this module reach the source; a class with any other field name keeps the
# generic loops.


def compile_values(plan: LayerPlan) -> Callable | None:
    """``values(layer, new)`` of one class: LayerPlan.values without its loops."""
    if not plan.storage or not all(safe_name(s) for s in plan.storage):
        return None
    ns: dict[str, Any] = {}
    lines = ["def values(l, new):", "    v = {}"]
    for i, (name, slot) in enumerate(zip(plan.names, plan.storage, strict=True)):
        ok = plan.ok_types[name]
        lines.append(f"    x = l.{slot}")
        if ok is not None:
            ns[f"T{i}"], ns[f"C{i}"] = ok, plan.convert[name]
            lines += [f"    if type(x) is not T{i}:",
                      "        if x is not None:",
                      f"            x = C{i}(x)"]
            if name not in plan.computed:
                ns[f"F{i}"] = plan.fallback.get(name, plan.initial[name])
                lines += ["        elif new:", f"            x = F{i}"]
        elif name not in plan.computed and plan.initial[name] is not None:
            ns[f"F{i}"] = plan.initial[name]
            lines += ["    if x is None and new:",
                      f"        x = [] if type(F{i}) is list else F{i}"]
        lines.append(f"    v[{name!r}] = x")
    lines.append("    return v")
    exec("\n".join(lines), ns)  # noqa: S102 - see the comment above
    return ns["values"]


def compile_init(plan: LayerPlan) -> Callable | None:
    """``__init__(self, *, field=..., ...)`` of one class: each field converted when given
    and not already raw, else at its initial value (a fresh list for list parts)."""
    names = plan.names
    if not all(safe_name(n) and not n.startswith("_") for n in names) or \
            not all(safe_name(s) for s in plan.storage):
        return None
    ns: dict[str, Any] = {"_U": _UNSET, "_type": type}  # a field may be called `type`
    params = ", *" + "".join(f", {n}=_U" for n in names) if names else ""
    lines = [f"def __init__(_l{params}):", "    _l._buf = _l._forced = None"]
    for i, (name, slot) in enumerate(zip(names, plan.storage, strict=True)):
        initial, ok = plan.initial[name], plan.ok_types[name]
        ns[f"_I{i}"], ns[f"_C{i}"], ns[f"_T{i}"] = initial, plan.convert[name], ok
        default = "[]" if type(initial) is list else f"_I{i}"
        lines += [f"    if {name} is _U:", f"        _l.{slot} = {default}",
                  f"    elif {name} is None or _type({name}) is _T{i}:",
                  f"        _l.{slot} = {name}",
                  "    else:", f"        _l.{slot} = _C{i}({name})"]
    exec("\n".join(lines), ns)  # noqa: S102 - see above
    init = ns["__init__"]
    init.__doc__ = (f"A new {plan.name} layer to build; fields not given take their defaults "
                    "(see Layer.__init__).")
    init.__qualname__ = f"{plan.cls.__qualname__}.__init__"
    return init


_UNSET = object()


def compile_pack(plan: LayerPlan) -> Callable | None:
    """``pack(values, ctx)`` of one class: the prefix packed with each plain field read from
    the values dict directly, not through its getter."""
    if plan.prefix is None:
        return None
    ns: dict[str, Any] = {"S": plan.prefix.pack, "bytearray": bytearray}
    args = []
    for i, getter in enumerate(plan.prefix_getters):
        name = getattr(getter, "_field", None)
        if name is not None:
            args.append(f"v[{name!r}]")
        else:
            ns[f"G{i}"] = getter
            args.append(f"G{i}(c)")
    exec(f"def pack(v, c):\n    return bytearray(S({', '.join(args)}))", ns)  # noqa: S102
    return ns["pack"]


def safe_name(name: str) -> bool:
    """Whether a name may be written into compiled source as it is."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__")
