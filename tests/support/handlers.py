"""Load a Lambda handler module (``functions/<name>/app.py``) under a unique module name.

Every function's module is called ``app``, as Lambda expects; tests load each under its own name so
that two functions never collide in one interpreter.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_handler_module(function_dir: str) -> ModuleType:
    """Import ``functions/<function_dir>/app.py`` fresh (its init runs now, as on a cold start)."""
    path = ROOT / "functions" / function_dir / "app.py"
    module_name = f"loanflow_fn_{function_dir}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
