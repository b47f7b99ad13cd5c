"""The scoring function as Lambda receives it: function code + every layer, built for the Lambda
platform by the layers' own Makefiles (as `sam build` runs them), must stay ≤ 150 MB unzipped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loanflow.scoring import Scorer
from loanflow_ml.paths import SHIPPED_MODEL_DIR
from tests.conftest import template

ROOT = Path(__file__).resolve().parents[2]
LIMIT_BYTES = 150 * 1024 * 1024


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def score_function_layers() -> list[str]:
    tpl = template()
    layers = [*tpl["Globals"]["Function"].get("Layers", [])]
    layers += tpl["Resources"]["ScoreFunction"]["Properties"].get("Layers", [])
    return [layer["Ref"] for layer in layers]


def build_layer(logical_id: str, artifacts: Path) -> Path:
    """What `sam build` does for a `BuildMethod: makefile` layer."""
    source = ROOT / template()["Resources"][logical_id]["Properties"]["ContentUri"]
    artifacts.mkdir(parents=True)
    result = subprocess.run(
        ["make", "--no-print-directory", f"build-{logical_id}", f"ARTIFACTS_DIR={artifacts}"],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return artifacts


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lambda-build")
    layers = {name: build_layer(name, root / name) for name in score_function_layers()}
    function = root / "ScoreFunction"
    shutil.copytree(
        ROOT / "functions" / "score", function, ignore=shutil.ignore_patterns("__pycache__")
    )
    return {**layers, "ScoreFunction": function}


@pytest.mark.slow
def test_function_and_layers_fit_in_150_mb(built: dict[str, Path]) -> None:
    sizes = {name: tree_size(path) for name, path in built.items()}
    total = sum(sizes.values())
    print(json.dumps({**sizes, "total": total}))  # shown with -s: the measured figures
    assert {"ScoringLayer", "CommonLayer"} <= set(built)
    assert total <= LIMIT_BYTES, f"{total / 2**20:.1f} MB > 150 MB: {sizes}"


@pytest.mark.slow
def test_scoring_layer_ships_the_library_openmp_and_model_but_no_numpy(
    built: dict[str, Path],
) -> None:
    layer = built["ScoringLayer"]
    assert (layer / "lib" / "lib_lightgbm.so").is_file()
    assert (layer / "lib" / "libgomp.so.1").is_file()
    assert (layer / "model" / "scoring.json").is_file()
    everything = [p.name for p in layer.rglob("*")]
    assert not any(name in {"numpy", "scipy", "lightgbm", "sklearn"} for name in everything)


@pytest.mark.slow
def test_the_built_layer_scores_like_the_repository_model(built: dict[str, Path]) -> None:
    # given the layer's own library and model copy
    layer = built["ScoringLayer"]
    shipped = Scorer.load(layer / "model", str(layer / "lib" / "lib_lightgbm.so"))
    sample = json.loads((ROOT / "events" / "score.json").read_text())["features"]

    # then it is the repository's model, byte for byte, with the same answer
    assert (layer / "model" / "model.txt").read_bytes() == (
        SHIPPED_MODEL_DIR / "model.txt"
    ).read_bytes()
    result = shipped.score(sample)
    assert 0.0 < result.pd < 1.0
    assert result.reasons


@pytest.mark.slow
def test_the_loader_path_resolves_lightgbm_and_openmp_from_the_layer(
    built: dict[str, Path],
) -> None:
    # given only the layer's lib directory on the loader path, as /opt/lib is on Lambda
    lib = built["ScoringLayer"] / "lib"
    probe = (
        "import ctypes; ctypes.CDLL('lib_lightgbm.so'); "
        "print('\\n'.join(l.split()[-1] for l in open('/proc/self/maps') if '.so' in l))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        env={"LD_LIBRARY_PATH": str(lib), "PATH": os.environ.get("PATH", "")},
    )

    # then both libraries are the layer's own
    assert result.returncode == 0, result.stderr
    mapped = set(result.stdout.split())
    assert str(lib / "lib_lightgbm.so") in mapped
    assert str(lib / "libgomp.so.1") in mapped
