"""The .snn grammar, installed as the package ``snnlang.grammar``.

Load it with ``importlib.resources.files("snnlang.grammar") / "snn.lark"``.
This works in an editable install and in an installed wheel.
"""
