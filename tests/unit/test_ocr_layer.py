"""The OCR layer's packed native packages: unpacked once into /tmp and importable."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A process where cv2 and onnxruntime are not installed (as on Lambda, where they are packed).
PROGRAM = """
import importlib.abc, importlib.machinery, sys, tempfile
from pathlib import Path

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("cv2", "onnxruntime"):
            unpacked = [p for p in sys.path if p.endswith("loanflow-ocr-native")]
            spec = importlib.machinery.PathFinder.find_spec(name, path or unpacked)
            if spec is None:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return spec
        return None

sys.meta_path.insert(0, NotInstalled())
tempfile.tempdir = sys.argv[2]
from loanflow.ocr.local import ensure_native_packages
ensure_native_packages(Path(sys.argv[1]))
ensure_native_packages(Path(sys.argv[1]))  # a warm start: already unpacked
import cv2, onnxruntime
print(cv2.ORIGIN, onnxruntime.ORIGIN)
"""


def archive(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in ("cv2", "onnxruntime"):
            data = f"ORIGIN = 'packed {name}'\n".encode()
            info = tarfile.TarInfo(f"{name}/__init__.py")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_packed_packages_are_unpacked_once_and_imported(tmp_path: Path) -> None:
    packed = archive(tmp_path / "packages.tar.gz")
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(packed), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "layers/common/python"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["packed", "cv2", "packed", "onnxruntime"]
    assert (tmp_path / "loanflow-ocr-native" / ".unpacked").exists()
