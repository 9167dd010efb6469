"""Build hook for the one optional C extension; everything else is in pyproject.toml.

``docframe.connectors.pdf._stext`` reads MuPDF's structured text pages directly
(see the C file for why). It compiles against the headers PyMuPDF ships and
links against nothing. It is optional: without a C compiler, or without PyMuPDF's
headers, the install goes on and the PDF connector uses its pure-Python path.
"""

from __future__ import annotations

import importlib.util
import os

from setuptools import Extension, setup


def _mupdf_headers() -> str | None:
    spec = importlib.util.find_spec("pymupdf")  # located, not imported
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(root, "mupdf-devel", "include")
        if os.path.isfile(os.path.join(path, "mupdf", "fitz.h")):
            return path
    return None


headers = _mupdf_headers()
ext_modules = []
if headers is not None:
    ext_modules.append(
        Extension(
            "docframe.connectors.pdf._stext",
            ["docframe/connectors/pdf/_stext.c"],
            include_dirs=[headers],
            extra_compile_args=["-O2"],
            optional=True,
        )
    )
setup(ext_modules=ext_modules)
