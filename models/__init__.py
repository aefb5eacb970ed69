"""The .snn standard library, installed as the package ``snnlang.models``.

List or read the models with ``importlib.resources.files("snnlang.models")``;
this is where ``import "lif.snn"`` looks. Only ``*.snn`` files are shipped.
"""
