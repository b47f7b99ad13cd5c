"""One OCR interface, two engines, one output.

``engine_for(document_type)`` gives the engine that configuration names for that type of document;
``analyze(...)`` returns Textract's AnalyzeDocument shape (PAGE, LINE, WORD, KEY_VALUE_SET
blocks) whichever engine read it, and :mod:`loanflow.extract` turns that into fields.

Configuration (environment): ``OCR_ENGINE`` (default engine: ``local`` or ``textract``),
``OCR_ENGINES`` (per type, JSON: ``{"bank_statement": "textract"}``), ``OCR_THREADS`` (the local
engine's CPU threads), ``OCR_MAX_SIDE`` (the local engine's largest image side, pixels),
``OCR_DET_SIDE`` (the longer side the text detector sees, pixels).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Literal, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanflow.models import DocumentType
from loanflow.ocr.errors import UnreadableDocument

EngineName = Literal["local", "textract"]


class OcrSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", case_sensitive=False, extra="ignore")

    engine: EngineName = Field(default="local", description="Default engine (OCR_ENGINE)")
    engines: dict[DocumentType, EngineName] = Field(
        default_factory=dict, description="Engine per document type, JSON (OCR_ENGINES)"
    )
    threads: int = Field(default=1, ge=1, le=16, description="Local engine CPU threads")
    max_side: int = Field(default=1600, ge=320, le=4096, description="Local engine max image side")
    det_side: int = Field(default=960, ge=320, le=2048, description="Local engine detection side")


class OcrEngine(Protocol):
    name: str

    def warm_up(self) -> None: ...

    def analyze(self, content: bytes, content_type: str) -> dict[str, Any]: ...


@cache
def ocr_settings() -> OcrSettings:
    return OcrSettings()


@cache
def get_engine(name: EngineName) -> Any:
    """The process-wide engine called ``name`` (built once: the local one holds its models)."""
    if name == "local":
        from loanflow.ocr.local import LocalOcrEngine

        settings = ocr_settings()
        return LocalOcrEngine(
            threads=settings.threads, max_side=settings.max_side, det_side=settings.det_side
        )
    from loanflow.ocr.textract import TextractEngine

    return TextractEngine()


def engine_name_for(document_type: DocumentType) -> EngineName:
    settings = ocr_settings()
    return settings.engines.get(document_type, settings.engine)


def warm_up() -> None:
    """Build (and load the models of) every engine that configuration uses."""
    for name in {engine_name_for(t) for t in DocumentType}:
        get_engine(name).warm_up()


def analyze(
    document_type: DocumentType,
    content: bytes,
    content_type: str,
    *,
    queries: Sequence[tuple[str, str]] = (),
    s3_location: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Read one document with the engine configured for its type."""
    if not content:
        raise UnreadableDocument("the document is empty", reason="empty")
    name = engine_name_for(document_type)
    engine = get_engine(name)
    if name == "textract":
        result: dict[str, Any] = engine.analyze(
            content, content_type, queries=queries, s3_location=s3_location
        )
        return result
    return dict(engine.analyze(content, content_type))


__all__ = [
    "OcrEngine",
    "OcrSettings",
    "UnreadableDocument",
    "analyze",
    "engine_name_for",
    "get_engine",
    "ocr_settings",
    "warm_up",
]
