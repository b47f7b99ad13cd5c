"""The ``local`` engine: RapidOCR (PP-OCR detection + recognition, ONNX Runtime on the CPU), with
the models that its wheel ships — it reads Chinese and needs no network, ever.

Its lines become Textract-shaped blocks (:mod:`loanflow.ocr.blocks`), so the rest of loanflow cannot
tell it from Amazon Textract.
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any

from loanflow.ocr.blocks import RecognizedLine, build_blocks
from loanflow.ocr.errors import UnreadableDocument
from loanflow.ocr.vocabulary import find_labels

IMAGE_TYPES = ("image/jpeg", "image/png")
# Where the OCR layer keeps OpenCV and ONNX Runtime packed (layers/ocr/Makefile: unpacked they
# would not fit Lambda's 250 MB). Elsewhere (a developer's machine, the local cloud) they are
# simply installed.
PACKED_NATIVE = Path(os.environ.get("OCR_PACKED_NATIVE", "/opt/native/packages.tar.gz"))


def ensure_native_packages(archive: Path = PACKED_NATIVE) -> None:
    """Make ``import cv2, onnxruntime`` work: installed already, or unpacked once from the
    layer's archive into /tmp (a cold start's cost, ≈ 1–2 s) and put on the import path."""
    try:
        import cv2  # noqa: F401
        import onnxruntime  # noqa: F401

        return
    except ModuleNotFoundError:
        if not archive.is_file():
            raise
    target = Path(tempfile.gettempdir()) / "loanflow-ocr-native"
    done = target / ".unpacked"
    if not done.exists():
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        done.touch()
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))


class LocalOcrEngine:
    """Offline OCR. The model loads on first use (≈ 1 s), then stays warm for the process."""

    name = "local"

    def __init__(self, *, threads: int = 1, max_side: int = 1600, det_side: int = 960) -> None:
        self.threads = threads
        self.max_side = max_side
        self.det_side = det_side
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._engine is None:
                ensure_native_packages()
                from rapidocr import RapidOCR  # heavy: numpy, onnxruntime, opencv

                self._engine = RapidOCR(
                    params={
                        "Global.log_level": "warning",
                        "Global.max_side_len": self.max_side,
                        # detect on an image whose longer side is det_side (a card photo's text
                        # stays legible; measured: 960 reads as well as the default, 25% faster)
                        "Det.limit_type": "max",
                        "Det.limit_side_len": self.det_side,
                        "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                    }
                )
            return self._engine

    def warm_up(self) -> None:
        """Load the models now (at cold start) rather than on the first document."""
        self._load()

    def analyze(self, content: bytes, content_type: str) -> dict[str, Any]:
        """Read one image; return the AnalyzeDocument-shaped response."""
        if content_type not in IMAGE_TYPES:
            raise UnreadableDocument(
                f"the local engine reads {' and '.join(IMAGE_TYPES)}, not {content_type}",
                reason="unsupported_content_type",
            )
        import cv2
        import numpy as np

        image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise UnreadableDocument("the file is not a decodable image", reason="corrupt_image")
        height, width = image.shape[:2]
        result = self._load()(image, use_cls=False)
        lines = [
            RecognizedLine(
                text=str(text),
                polygon=[(float(x), float(y)) for x, y in box],
                confidence=float(score),
            )
            for box, text, score in zip(
                result.boxes if result.boxes is not None else [],
                result.txts or (),
                result.scores or (),
                strict=True,
            )
        ]
        return build_blocks(lines, width=width, height=height, find_labels=find_labels)
