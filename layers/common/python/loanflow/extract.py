"""Fields from a read document: PRC resident ID card (front, back), bank card, bank statement.

Every field carries the engine's confidence (0–1). Numbers are checked: the ID number by its
GB 11643 check digit and against the printed birth date and sex, the card number by Luhn (its issuer
named from the BIN where known). A field that fails its check keeps the value read, with a low
confidence and a problem code, so that the cross-check can ask for a re-upload.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, Field

from loanflow.models import DocumentType
from loanflow.ocr.bins import issuer_for
from loanflow.ocr.reader import Read, ReadDocument
from loanflow.types import id_birth_date, id_sex, luhn_valid, validate_id_number

FAILED_CHECK_CONFIDENCE = 0.2

# Textract QUERIES asked for each document type (the textract engine sends them; aliases are keys).
QUERIES: dict[DocumentType, tuple[tuple[str, str], ...]] = {
    DocumentType.ID_CARD_FRONT: (
        ("What is the name?", "NAME"),
        ("What is the citizen ID number?", "ID_NUMBER"),
        ("What is the date of birth?", "BIRTH_DATE"),
        ("What is the address?", "ADDRESS"),
    ),
    DocumentType.ID_CARD_BACK: (
        ("What is the issuing authority?", "ISSUING_AUTHORITY"),
        ("What is the validity period?", "VALIDITY"),
    ),
    DocumentType.BANK_CARD: (("What is the card number?", "CARD_NUMBER"),),
    DocumentType.BANK_STATEMENT: (
        ("What is the account number?", "CARD_NUMBER"),
        ("What is the account holder name?", "NAME"),
    ),
}
# The fields without which a document of this type is unreadable.
REQUIRED: dict[DocumentType, tuple[str, ...]] = {
    DocumentType.ID_CARD_FRONT: ("name", "id_number"),
    DocumentType.ID_CARD_BACK: ("valid_until",),
    DocumentType.BANK_CARD: ("bank_card",),
    DocumentType.BANK_STATEMENT: ("bank_card",),
}


class ExtractedField(BaseModel):
    value: Annotated[str, Field(description="The field as read and normalised")]
    confidence: Annotated[float, Field(ge=0, le=1, description="How sure the reading is, 0–1")]


class Extraction(BaseModel):
    """What one document says."""

    document_type: DocumentType
    fields: dict[str, ExtractedField] = {}
    problems: Annotated[
        list[str], Field(description="Checks that failed (e.g. id_number_check_digit)")
    ] = []

    @property
    def readable(self) -> bool:
        return all(name in self.fields for name in REQUIRED[self.document_type])


# --- normalisation --------------------------------------------------------------------------

# characters an OCR engine mistakes for digits, in a field known to be numeric
DIGIT_LOOKALIKES = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "I": "1",
        "l": "1",
        "|": "1",
        "i": "1",
        "Z": "2",
        "z": "2",
        "S": "5",
        "s": "5",
        "B": "8",
        "b": "6",
        "G": "6",
        "g": "9",
        "q": "9",
        "T": "7",
    }
)
_FULLWIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"Ｘ": "X", "ｘ": "X"})


def compact(text: str) -> str:
    """Remove every kind of whitespace (OCR puts spaces anywhere in CJK text)."""
    return re.sub(r"\s+", "", text)


def as_digits(text: str, *, allow_final_x: bool = False) -> str:
    """Read ``text`` as a number: look-alike letters become digits, separators go."""
    text = compact(text).translate(_FULLWIDTH)
    tail = ""
    if allow_final_x and text[-1:] in ("X", "x", "×"):
        text, tail = text[:-1], "X"
    return re.sub(r"[^0-9]", "", text.translate(DIGIT_LOOKALIKES).replace("-", "")) + tail


_DATE_CN = re.compile(r"(\d{4})\D{1,3}?(\d{1,2})\D{1,3}?(\d{1,2})")


def parse_date(text: str) -> date | None:
    match = _DATE_CN.search(as_digits_keep_separators(text))
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def as_digits_keep_separators(text: str) -> str:
    return compact(text).translate(_FULLWIDTH)


# --- extractors -----------------------------------------------------------------------------


def _pick(*candidates: Read | None) -> Read | None:
    return next((c for c in candidates if c is not None and compact(c.text)), None)


def _field(value: str, confidence: float) -> ExtractedField:
    return ExtractedField(value=value, confidence=round(max(0.0, min(1.0, confidence)), 4))


def extract_id_front(doc: ReadDocument, *, today: date | None = None) -> Extraction:
    form, queries = doc.form(), doc.queries()
    out = Extraction(document_type=DocumentType.ID_CARD_FRONT)
    if name := _pick(form.get("姓名"), queries.get("NAME")):
        out.fields["name"] = _field(compact(name.text), name.confidence)
    if sex := _pick(form.get("性别")):
        value = {"男": "M", "女": "F"}.get(compact(sex.text)[:1])
        if value:
            out.fields["sex"] = _field(value, sex.confidence)
    if ethnicity := _pick(form.get("民族")):
        out.fields["ethnicity"] = _field(compact(ethnicity.text), ethnicity.confidence)
    if birth := _pick(form.get("出生"), queries.get("BIRTH_DATE")):
        parsed = parse_date(birth.text)
        if parsed:
            out.fields["birth_date"] = _field(parsed.isoformat(), birth.confidence)
    if address := _pick(form.get("住址"), queries.get("ADDRESS")):
        out.fields["address"] = _field(compact(address.text), address.confidence)
    number = _pick(form.get("公民身份号码"), queries.get("ID_NUMBER")) or _find_id_number(doc)
    if number:
        _check_id_number(out, as_digits(number.text, allow_final_x=True), number.confidence, today)
    return out


_ID_IN_TEXT = re.compile(r"[1-9]\d{16}[\dX]")


def _find_id_number(doc: ReadDocument) -> Read | None:
    """An 18-character ID number anywhere on the page (an engine that found no form)."""
    for line in doc.lines:
        match = _ID_IN_TEXT.search(as_digits(line.text, allow_final_x=True))
        if match:
            return Read(match[0], line.confidence)
    return None


def _check_id_number(out: Extraction, number: str, confidence: float, today: date | None) -> None:
    try:
        validate_id_number(number, today=today)
    except ValueError:
        out.problems.append("id_number_check_digit" if len(number) == 18 else "id_number_format")
        out.fields["id_number"] = _field(number, min(confidence, FAILED_CHECK_CONFIDENCE))
        return
    out.fields["id_number"] = _field(number, confidence)
    if "sex" not in out.fields:  # a lone 男/女 is easy to miss; the 17th digit says it too
        out.fields["sex"] = _field(id_sex(number), confidence)
    birth = out.fields.get("birth_date")
    if birth and birth.value != id_birth_date(number).isoformat():
        out.problems.append("birth_date_mismatch")
    sex = out.fields.get("sex")
    if sex and sex.value != id_sex(number):
        out.problems.append("sex_mismatch")


_VALIDITY = re.compile(r"(\d{4})\D?(\d{2})\D?(\d{2})\D*?(?:(\d{4})\D?(\d{2})\D?(\d{2})|(长期))")


def extract_id_back(doc: ReadDocument) -> Extraction:
    form, queries = doc.form(), doc.queries()
    out = Extraction(document_type=DocumentType.ID_CARD_BACK)
    if authority := _pick(form.get("签发机关"), queries.get("ISSUING_AUTHORITY")):
        out.fields["issuing_authority"] = _field(compact(authority.text), authority.confidence)
    validity = _pick(form.get("有效期限"), queries.get("VALIDITY"))
    if validity is None:
        validity = next((ln for ln in doc.lines if _VALIDITY.search(compact(ln.text))), None)
    if validity:
        match = _VALIDITY.search(compact(validity.text).translate(_FULLWIDTH))
        try:
            start = date(int(match[1]), int(match[2]), int(match[3])) if match else None
            end = date(int(match[4]), int(match[5]), int(match[6])) if match and match[4] else None
        except ValueError:
            start = end = None
        if match and start:
            out.fields["valid_from"] = _field(start.isoformat(), validity.confidence)
            if end:
                out.fields["valid_until"] = _field(end.isoformat(), validity.confidence)
            elif match[7]:
                out.fields["valid_until"] = _field("long_term", validity.confidence)
        else:
            out.problems.append("validity_unparsable")
    return out


_CARD_IN_TEXT = re.compile(r"\d{16,19}")


def _card_number(out: Extraction, doc: ReadDocument) -> None:
    """The longest Luhn-valid 16–19 digit run (a query answer first, then every line)."""
    answer = doc.queries().get("CARD_NUMBER")
    candidates = ([answer] if answer else []) + doc.lines
    fallback: tuple[str, float] | None = None
    for read in candidates:
        text = compact(read.text)
        if sum(ch.isdigit() for ch in text) < 12:  # a bank name, a date, "UnionPay"
            continue
        for run in _CARD_IN_TEXT.findall(as_digits(text)):
            if luhn_valid(run):
                out.fields["bank_card"] = _field(run, read.confidence)
                if issuer := issuer_for(run):
                    out.fields["issuer"] = _field(issuer, 1.0)
                return
            fallback = fallback or (run, read.confidence)
    if fallback:
        out.problems.append("card_number_luhn")
        out.fields["bank_card"] = _field(fallback[0], min(fallback[1], FAILED_CHECK_CONFIDENCE))


def extract_bank_card(doc: ReadDocument) -> Extraction:
    out = Extraction(document_type=DocumentType.BANK_CARD)
    _card_number(out, doc)
    return out


def extract_bank_statement(doc: ReadDocument) -> Extraction:
    out = Extraction(document_type=DocumentType.BANK_STATEMENT)
    _card_number(out, doc)
    if holder := doc.queries().get("NAME"):
        out.fields["name"] = _field(compact(holder.text), holder.confidence)
    return out


EXTRACTORS: dict[DocumentType, Callable[[ReadDocument], Extraction]] = {
    DocumentType.ID_CARD_FRONT: extract_id_front,
    DocumentType.ID_CARD_BACK: extract_id_back,
    DocumentType.BANK_CARD: extract_bank_card,
    DocumentType.BANK_STATEMENT: extract_bank_statement,
}


def extract(document_type: DocumentType, response: dict[str, Any]) -> Extraction:
    """The fields of a ``document_type`` document from an AnalyzeDocument-shaped response."""
    return EXTRACTORS[document_type](ReadDocument(response))
