"""Build hook for the optional compiled decode loop (pktspec/runtime/_fastpath.c).

Everything else about the package is in pyproject.toml. The extension is optional: without
a C compiler or Python's headers the build carries on and pktspec decodes in pure Python
(pktspec/runtime/fastpath.py says which loop runs).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pktspec.runtime._fastpath",
            ["pktspec/runtime/_fastpath.c"],
            include_dirs=["pktspec/protocols"],  # _native_programs.h, the built-in programs
            depends=["pktspec/protocols/_native_programs.h"],
            optional=True,
        )
    ]
)
