"""Unzipped deployment size of every function with its layers, from a real ``sam build``.

Lambda's limit is 250 MB for a function's code and all its layers together, unzipped
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The build is the one
``make build`` does (layers from manylinux wheels for python3.13, no Docker), into a temporary
directory so that the developer's ``.aws-sam`` is left alone. The SAM CLI comes from ``SAM_CLI``,
else ``.venv-sam/bin/sam`` (the Makefile's), else ``sam`` on the PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench import value_figure
from localcloud.provision import function_properties
from localcloud.template import ROOT, load_template

LIMIT_MB = 250.0
MB = 1024 * 1024
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
BUILD_TIMEOUT_S = 480


def sam_cli() -> str:
    """The SAM CLI to build with."""
    candidates = [os.environ.get("SAM_CLI"), str(ROOT / ".venv-sam" / "bin" / "sam"), "sam"]
    for candidate in candidates:
        if not candidate:
            continue
        found = shutil.which(candidate)
        if found:
            return found
    raise FileNotFoundError("no SAM CLI: set SAM_CLI or run `make setup` (it creates .venv-sam)")


def tree_bytes(path: Path) -> int:
    """Apparent size of every file under ``path`` (what Lambda counts once unzipped)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def sam_build(build_dir: Path) -> Path:
    """Run ``sam build`` into ``build_dir``; return the built template's path."""
    done = subprocess.run(
        [sam_cli(), "build", "--build-dir", str(build_dir), "--template-file", "template.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-2000:]
        raise RuntimeError(f"sam build failed ({done.returncode}): {tail}")
    return build_dir / "template.yaml"


def function_sizes(built_template: Path) -> dict[str, dict[str, int]]:
    """Per function: bytes of its code and of each of its layers, from the built template."""
    template = load_template(built_template)
    base = built_template.parent
    declared = template.get("Resources") or {}
    sizes: dict[str, dict[str, int]] = {}
    for logical_id, resource in declared.items():
        if resource.get("Type") not in FUNCTION_TYPES:
            continue
        properties = function_properties(template, logical_id)
        parts = {"code": tree_bytes(base / str(properties.get("CodeUri", logical_id)))}
        for layer in properties.get("Layers") or []:
            ref = layer.get("Ref") if isinstance(layer, dict) else None
            layer_props = (declared.get(ref) or {}).get("Properties") or {}
            content = layer_props.get("ContentUri")
            if isinstance(content, str):
                parts[f"layer:{ref}"] = tree_bytes(base / content)
        sizes[logical_id] = parts
    return sizes


def run() -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="loanflow-bench-build-") as tmp:
        sizes = function_sizes(sam_build(Path(tmp) / "build"))
    figures: dict[str, dict[str, Any]] = {}
    for logical_id, parts in sizes.items():
        total = sum(parts.values()) / MB
        detail = ", ".join(f"{name} {size / MB:.2f} MB" for name, size in parts.items())
        figures[f"{logical_id}.unzipped_mb"] = value_figure(
            round(total, 3),
            unit="MB",
            limit=LIMIT_MB,
            note=f"code + layers, unzipped ({detail}); Lambda limit 250 MB",
        )
    largest = max(sum(parts.values()) for parts in sizes.values()) / MB
    figures["largest_function.unzipped_mb"] = value_figure(
        round(largest, 3),
        unit="MB",
        limit=LIMIT_MB,
        reference=LIMIT_MB,
        reference_label="Lambda's 250 MB unzipped limit",
    )
    return figures
