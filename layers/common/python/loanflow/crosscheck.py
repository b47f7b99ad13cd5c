"""Cross-check: what the applicant typed against what their documents say.

Comparisons tolerate what OCR gets wrong without being wrong about the person: spacing, full-width
characters, look-alike letters in numbers (0/O, 1/l/I, 5/S, 8/B). The outcome is KYC signals and
reason codes for the decision:

- a confident mismatch of name or ID number declines (the documents are someone else's);
- an expired ID card, or a bank card that is not the one typed, goes to a person;
- an unreadable document, or a reading too unsure to judge, asks for a re-upload — it never declines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from loanflow.extract import ExtractedField, Extraction, as_digits, compact
from loanflow.models import DocumentType, Reason

# a reading below this confidence cannot prove a mismatch; it can only ask for a better photo
CONFIDENT = 0.85

REASON_TEXTS: dict[str, str] = {
    "DOC_IDENTITY_MISMATCH": "The ID card you uploaded does not match the name or ID number in "
    "your application.",
    "DOC_ID_EXPIRED": "Your ID card has expired; a person will ask you for a valid one.",
    "DOC_CARD_MISMATCH": "The bank card you uploaded is not the card in your application; a person "
    "will check it.",
    "DOC_REUPLOAD_NEEDED": "We could not read one of your documents clearly; please upload a "
    "sharper photo.",
    "DOC_CHECK_FAILED": "A number on your document did not pass its check; please upload a sharper "
    "photo.",
}

Match = Literal["match", "mismatch", "unclear", "absent"]


def reason(code: str) -> Reason:
    return Reason(code=code, text=REASON_TEXTS[code])


class DocumentRead(BaseModel):
    """One document of the application and what OCR made of it (None: it could not be read)."""

    document_id: str
    document_type: DocumentType
    extraction: Extraction | None = None


class CrossCheck(BaseModel):
    """``$.crosscheck`` in the workflow: what Decide needs, and no PII."""

    outcome: Literal["clear", "mismatch", "review", "reupload", "no_documents"]
    signals: Annotated[
        dict[str, Match | bool], Field(description="name/id_number/bank_card: match…; id_expired")
    ] = {}
    declines: list[Reason] = []
    reviews: list[Reason] = []
    reupload: Annotated[list[str], Field(description="Document ids to upload again")] = []


def normalize_name(text: str) -> str:
    """Names compare without spaces, separators or letter case (·, •, . in minority names)."""
    return (
        compact(text).replace("·", "").replace("•", "").replace(".", "").replace("・", "").upper()
    )


def normalize_number(text: str) -> str:
    return as_digits(text, allow_final_x=True)


def compare(typed: str, read: ExtractedField | None, *, kind: Literal["name", "number"]) -> Match:
    """Whether ``read`` says ``typed``; a doubtful difference is unclear rather than a mismatch."""
    if read is None or not read.value:
        return "absent"
    norm = normalize_name if kind == "name" else normalize_number
    a, b = norm(typed), norm(read.value)
    if a == b:
        return "match"
    if read.confidence < CONFIDENT:
        return "unclear"
    if (
        kind == "number"
        and len(a) == len(b)
        and sum(x != y for x, y in zip(a, b, strict=True)) == 1
    ):
        return "unclear"  # one misread digit in a confident line: ask again, don't accuse
    return "mismatch"


def cross_check(
    typed_name: str,
    typed_id_number: str,
    typed_bank_card: str,
    documents: Sequence[DocumentRead],
    *,
    today: date,
) -> CrossCheck:
    """Compare the form with its documents (see the module's docstring for the consequences)."""
    if not documents:
        return CrossCheck(outcome="no_documents")
    result = CrossCheck(outcome="clear")
    by_type: dict[DocumentType, Extraction] = {}
    for doc in documents:
        if doc.extraction is None or not doc.extraction.readable:
            result.reupload.append(doc.document_id)
        elif any(p.endswith(("check_digit", "format", "luhn")) for p in doc.extraction.problems):
            result.reupload.append(doc.document_id)
            by_type.setdefault(doc.document_type, doc.extraction)
        else:
            by_type.setdefault(doc.document_type, doc.extraction)

    front = by_type.get(DocumentType.ID_CARD_FRONT)
    if front:
        name = compare(typed_name, front.fields.get("name"), kind="name")
        number = compare(typed_id_number, front.fields.get("id_number"), kind="number")
        result.signals.update(name=name, id_number=number)
        if "mismatch" in (name, number):
            result.declines.append(reason("DOC_IDENTITY_MISMATCH"))
    back = by_type.get(DocumentType.ID_CARD_BACK)
    if back and (until := back.fields.get("valid_until")) and until.value != "long_term":
        expired = date.fromisoformat(until.value) < today
        result.signals["id_expired"] = expired
        if expired:
            result.reviews.append(reason("DOC_ID_EXPIRED"))
    card = by_type.get(DocumentType.BANK_CARD) or by_type.get(DocumentType.BANK_STATEMENT)
    if card:
        match = compare(typed_bank_card, card.fields.get("bank_card"), kind="number")
        result.signals["bank_card"] = match
        if match == "mismatch":
            result.reviews.append(reason("DOC_CARD_MISMATCH"))
    unclear = [k for k, v in result.signals.items() if v in ("unclear", "absent")]
    if result.reupload or unclear:
        result.reviews.append(
            reason("DOC_CHECK_FAILED" if _failed_checks(documents) else "DOC_REUPLOAD_NEEDED")
        )
    if result.declines:
        result.outcome = "mismatch"
    elif result.reviews and (result.reupload or unclear) and len(result.reviews) == 1:
        result.outcome = "reupload"
    elif result.reviews:
        result.outcome = "review"
    return result


def _failed_checks(documents: Sequence[DocumentRead]) -> bool:
    return any(
        p.endswith(("check_digit", "luhn"))
        for d in documents
        if d.extraction
        for p in d.extraction.problems
    )
