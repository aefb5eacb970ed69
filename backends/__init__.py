"""Built-in snnlang backends.

This folder is installed as the package ``snnlang_backends`` (see ``package-dir``
in pyproject.toml); import it as ``import snnlang_backends``, never as ``backends``.
Backends are discovered through the ``snnlang.backends`` entry-point group.
"""
