"""A clean ImportError in a subinterpreter, before the compiled module is loaded: pybind11's
module initialisation blocks forever in PyGILState_Ensure there (Python 3.11), and numpy does
not support subinterpreters either."""

from __future__ import annotations

import importlib


def refuse_subinterpreters() -> None:
    for name in ("_interpreters", "_xxsubinterpreters"):  # 3.13+, then 3.8-3.12
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if mod.get_current() != mod.get_main():
            raise ImportError(
                "halfkit cannot be imported in a subinterpreter: its compiled module (pybind11) "
                "and numpy support only the main interpreter"
            )
        return
