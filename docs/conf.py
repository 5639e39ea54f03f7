"""Sphinx configuration for the zmqstreams documentation.

Build with ``bash scripts/docs`` (warnings are errors).  No extension needs the network.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zmqstreams  # noqa: E402

project = "zmqstreams"
author = "zmqstreams developers"
copyright = "zmqstreams developers"
release = zmqstreams.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

# Intersphinx and doctest are off on purpose: builds must work offline, and the docs' code
# blocks marked ``:class: runnable`` are executed by tests/test_examples.py instead.

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options: dict[str, bool] = {}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

exclude_patterns = ["_build"]
default_role = "py:obj"
pygments_style = "sphinx"
pygments_dark_style = "monokai"

html_theme = "furo" if importlib.util.find_spec("furo") else "alabaster"
html_title = f"zmqstreams {release}"
html_static_path = ["_static"]
# Layout fixes so that every page fits a 1280 px and a 390 px window (scripts/docs-check).
html_css_files = ["zmqstreams.css"]
