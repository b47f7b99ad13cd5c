"""Where the developer tools find the shipped model and a LightGBM C library on this machine.

Serving never uses this module (on Lambda both come from the scoring layer, via ``MODEL_DIR`` and
the loader path); tests, benchmarks and the local cloud point ``MODEL_DIR`` / ``LIGHTGBM_LIBRARY``
here.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODEL_DIR = REPO_ROOT / "layers" / "scoring" / "model"
SCORING_LAYER_DIR = REPO_ROOT / "layers" / "scoring"


def lightgbm_library() -> Path:
    """The ``lib_lightgbm.so`` inside the installed ``lightgbm`` package (the same build as the
    manylinux wheel the scoring layer ships)."""
    import lightgbm

    path = Path(lightgbm.__file__).parent / "lib" / "lib_lightgbm.so"
    if not path.exists():
        raise FileNotFoundError(f"no LightGBM C library at {path}")
    return path
