"""Package discovery for snnlang; all other metadata is in pyproject.toml.

pyproject's `packages.find` cannot rename folders, and two top-level folders are
installed under other names (see `package-dir` in pyproject.toml):

* `backends/`  -> `snnlang_backends` (and its subpackages)
* `grammar/`   -> `snnlang.grammar`  (ships snn.lark)
* `models/`    -> `snnlang.models`   (ships the *.snn standard library)

Every `snnlang*` and `backends*` package is found automatically, so new
subpackages need no edit here.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["snnlang", "snnlang.*"])
packages += ["snnlang_backends" + p[len("backends"):]
             for p in find_packages(include=["backends", "backends.*"])]
packages += ["snnlang.grammar", "snnlang.models"]

setup(packages=sorted(set(packages)))
