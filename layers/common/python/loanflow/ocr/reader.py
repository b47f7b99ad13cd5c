"""Read an AnalyzeDocument-shaped response (from any engine) with textract-trp: lines, form fields
(by canonical label) and query answers (by alias), each with a confidence in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loanflow.ocr.vocabulary import match_label


@dataclass(frozen=True)
class Read:
    """A piece of text and how sure the engine was of it (0–1)."""

    text: str
    confidence: float


class ReadDocument:
    def __init__(self, response: dict[str, Any]) -> None:
        import trp  # shipped in the OCR layer: only functions that read documents import it

        self.response = response
        self.document = trp.Document(response)

    @property
    def lines(self) -> list[Read]:
        return [
            Read(line.text, line.confidence / 100)
            for page in self.document.pages
            for line in page.lines
        ]

    def form(self) -> dict[str, Read]:
        """Form fields by canonical label (first occurrence wins)."""
        fields: dict[str, Read] = {}
        for page in self.document.pages:
            for field in page.form.fields:
                if field.key is None or field.value is None:
                    continue
                hit = match_label(field.key.text.replace(" ", ""))
                if hit and hit[0] not in fields:
                    words = field.value.content
                    confidence = min((w.confidence for w in words), default=field.value.confidence)
                    fields[hit[0]] = Read(field.value.text, confidence / 100)
        return fields

    def queries(self) -> dict[str, Read]:
        """Textract QUERIES answers by alias (the best answer of each)."""
        by_id = {b["Id"]: b for b in self.response.get("Blocks", [])}
        answers: dict[str, Read] = {}
        for block in by_id.values():
            if block.get("BlockType") != "QUERY":
                continue
            alias = block.get("Query", {}).get("Alias") or block.get("Query", {}).get("Text", "")
            results = [
                by_id[i]
                for rel in block.get("Relationships", [])
                if rel.get("Type") == "ANSWER"
                for i in rel.get("Ids", [])
                if i in by_id
            ]
            if results:
                best = max(results, key=lambda r: r.get("Confidence", 0.0))
                answers[alias] = Read(best.get("Text", ""), best.get("Confidence", 0.0) / 100)
        return answers
