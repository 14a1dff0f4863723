"""Build hook for the optional compiled decode loop (pktspec/runtime/fastpath_c/).

Everything else about the package is in pyproject.toml. The extension is optional: without
a C compiler or Python's headers the build carries on and pktspec decodes in pure Python
(pktspec/runtime/fastpath.py says which loop runs).
"""

import os
from glob import glob

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pktspec.runtime._fastpath",
            sorted(glob("pktspec/runtime/fastpath_c/*.c")),
            include_dirs=["pktspec/protocols"],  # _native_programs.h, the built-in programs
            depends=["pktspec/protocols/_native_programs.h",
                     "pktspec/runtime/fastpath_c/fastpath.h"],
            # only PyInit__fastpath is exported: the parts' shared names stay private
            extra_compile_args=["-fvisibility=hidden"] if os.name == "posix" else [],
            optional=True,
        )
    ]
)
