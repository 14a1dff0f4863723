"""Generator output, byte for byte: a .layer file that uses most of the language against the
module committed beside it. Run `pytest --update-golden` to refresh it after a deliberate
change to the generator (and read the diff)."""

from __future__ import annotations

from pathlib import Path

from pktspec.generator.check import check
from pktspec.generator.compiler import render_file
from pktspec.generator.resolve import resolve

GOLDEN = Path(__file__).with_name("golden")


def test_showcase_module_is_byte_identical(request):
    source = GOLDEN / "showcase.layer"
    expected = GOLDEN / "showcase.py"
    checked = check(resolve(source))
    text = render_file(checked, checked.program.entry)
    if request.config.getoption("--update-golden"):
        expected.write_text(text, encoding="utf-8")
    assert expected.read_text(encoding="utf-8") == text, (
        "the generator's output changed: review it, then run pytest --update-golden")
    compile(text, str(expected), "exec")  # and it is valid Python
