"""Phase 4: emit. Render a module's view-model through the jinja2 templates.

Templates hold layout only (templates/module.py.j2, enum.py.j2, layer.py.j2); every name,
format and offset was worked out by model.py. Jinja runs with StrictUndefined so a missing
value is an error, never an empty string, and every literal goes through the ``pyrepr``
filter, so no text from a .layer file reaches the output except as a Python literal or a
validated identifier.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2

from pktspec.generator.model import ModuleModel


def _indented(lines: list[str], width: int) -> str:
    pad = " " * width
    return "\n".join(pad + line if line else "" for line in lines)


def _pyrepr(value: object) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise TypeError(f"only str and int literals are emitted, not {type(value).__name__}")
    return repr(value)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pktspec.generator", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["indented"] = _indented
    env.filters["pyrepr"] = _pyrepr
    return env


def render(model: ModuleModel) -> str:
    """The module's source text: deterministic for the same model."""
    text = environment().get_template("module.py.j2").render(m=model)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
