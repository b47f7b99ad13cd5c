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
# Where the OCR layer keeps OpenCV packed (layers/ocr/Makefile: unpacked it would not fit Lambda's
# 250 MB). Elsewhere (a developer's machine, the local cloud) OpenCV is simply installed.
PACKED_OPENCV = Path(os.environ.get("OCR_PACKED_OPENCV", "/opt/native/opencv.tar.gz"))


def ensure_opencv(archive: Path = PACKED_OPENCV) -> None:
    """Make ``import cv2`` work: installed already, or unpacked once from the layer into /tmp."""
    try:
        import cv2  # noqa: F401

        return
    except ModuleNotFoundError:
        if not archive.is_file():
            raise
    target = Path(tempfile.gettempdir()) / "loanflow-opencv"
    done = target / ".unpacked"
    if not done.exists():
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        done.touch()
    sys.path.insert(0, str(target))


class LocalOcrEngine:
    """Offline OCR. The model loads on first use (≈ 1 s), then stays warm for the process."""

    name = "local"

    def __init__(self, *, threads: int = 1, max_side: int = 1600) -> None:
        self.threads = threads
        self.max_side = max_side
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._engine is None:
                ensure_opencv()
                from rapidocr import RapidOCR  # heavy: numpy, onnxruntime, opencv

                self._engine = RapidOCR(
                    params={
                        "Global.log_level": "warning",
                        "Global.max_side_len": self.max_side,
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
