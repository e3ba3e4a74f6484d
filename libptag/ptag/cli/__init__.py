"""Command-line tools built on the :mod:`ptag` library.

``ptag`` (:mod:`ptag.cli.main`) inspects and sets process tags; ``ptag-exec``
(:mod:`ptag.cli.exec`) runs a command with tags.  Nothing here touches ctypes
or parses /proc: every fact comes from the public ``ptag`` API.

This package deliberately imports nothing, so ``python -m ptag.cli.main`` and
``python -m ptag.cli.exec`` run cleanly.
"""
