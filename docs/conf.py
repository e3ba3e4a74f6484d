"""Sphinx configuration of the ptag documentation.

``make docs`` builds HTML and the man pages with ``-W -n`` (warnings are errors,
every reference must resolve).  The local extension ``_ext/ptag_docs.py`` runs
``tools/extract-kernel-doc`` at the start of every build, renders
``docs/perf/*.json`` and checks that the API, the CLI options and the constants
are all documented and agree with the kernel series.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent / "libptag"))  # the source tree's ptag, installed or not

import ptag  # noqa: E402

project = "ptag"
author = "ptag developers"
copyright = "2026, ptag developers"
release = ptag.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "ptag_docs",
]

root_doc = "index"
exclude_patterns = ["_build", "_generated", "examples", "perf", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
language = "en"
today_fmt = "%Y-%m-%d"
# Quotes and ellipses only: "--" must stay two hyphens in option names.
smartquotes_action = "qe"

# -- references ----------------------------------------------------------------
nitpicky = True
# No network: no remote inventories.  The standard library's types are shown
# unlinked; everything of ptag's own must resolve.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
intersphinx_disabled_reftypes = ["*"]
nitpick_ignore_regex = [
    (r"py:(class|exc|obj|data)", r"(builtins\.)?(str|int|bool|bytes|object|None|float)"),
    (r"py:(class|exc|obj)", r"(builtins\.)?[A-Z][A-Za-z]*(Error|Exception)"),  # OSError, ...
    (r"py:(class|obj|data)", r"(collections\.abc|typing|types)\.\w+"),
    (r"py:(class|obj)", r"(Mapping|Iterable|Iterator|Sequence|MappingProxyType)"),
    (r"py:(class|obj)", r"(dict|list|tuple|set)"),
    (r"py:(class|obj)", r"(ptag\._\w+\.)?_T"),  # the TypeVar of get()'s overloads
    (r"py:mod", r"ctypes|os|errno|multiprocessing"),
    (r"py:func", r"os\.\w+"),
]
manpages_url = None

# -- autodoc -------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options: dict[str, object] = {}
python_use_unqualified_type_names = True
add_module_names = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# -- doctest (sphinx-build -b doctest): only examples that run on any kernel ---
doctest_global_setup = "import ptag"
doctest_test_doctest_blocks = ""

# -- HTML ----------------------------------------------------------------------
html_theme = "furo"
html_title = f"ptag {release}"
html_short_title = "ptag"
html_static_path = ["_static"]
html_css_files = ["ptag.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
    "light_css_variables": {
        "color-brand-primary": "#1f5f8b",
        "color-brand-content": "#1f5f8b",
        "font-stack--monospace": "'DejaVu Sans Mono', 'SFMono-Regular', Menlo, monospace",
    },
    "dark_css_variables": {
        "color-brand-primary": "#6cb4e4",
        "color-brand-content": "#6cb4e4",
    },
}

# -- man pages (sphinx-build -b man) -------------------------------------------
# man_make_section_directory: explicit, so the layout does not change with the
# Sphinx version (docs/_build/man/man1/ptag.1, .../man7/ptags.7).
man_make_section_directory = True
man_show_urls = False
man_pages = [
    ("cli/ptag", "ptag", "inspect and set immutable process tags", [author], 1),
    ("cli/ptag-exec", "ptag-exec", "run a command with immutable process tags", [author], 1),
    ("cli/ptag-runtime", "ptag-runtime", "an OCI runtime wrapper that tags containers", [author], 1),
    ("concepts", "ptags", "immutable process tags: concepts and the contract", [author], 7),
]
