"""The form against its documents: OCR slips are forgiven, other people's documents are not."""

from __future__ import annotations

from datetime import date

from loanflow.crosscheck import DocumentRead, compare, cross_check
from loanflow.extract import ExtractedField, Extraction
from loanflow.models import DocumentType

TODAY = date(2026, 12, 3)
NAME, ID, CARD = "王小明", "11010519491231002X", "6222021234567894"


def field(value: str, confidence: float = 0.98) -> ExtractedField:
    return ExtractedField(value=value, confidence=confidence)


def front(
    name: str = NAME, id_number: str = ID, confidence: float = 0.98, problems=()
) -> DocumentRead:
    return DocumentRead(
        document_id="doc_front",
        document_type=DocumentType.ID_CARD_FRONT,
        extraction=Extraction(
            document_type=DocumentType.ID_CARD_FRONT,
            fields={"name": field(name, confidence), "id_number": field(id_number, confidence)},
            problems=list(problems),
        ),
    )


def back(valid_until: str) -> DocumentRead:
    return DocumentRead(
        document_id="doc_back",
        document_type=DocumentType.ID_CARD_BACK,
        extraction=Extraction(
            document_type=DocumentType.ID_CARD_BACK,
            fields={"valid_until": field(valid_until)},
        ),
    )


def card(number: str = CARD, confidence: float = 0.98) -> DocumentRead:
    return DocumentRead(
        document_id="doc_card",
        document_type=DocumentType.BANK_CARD,
        extraction=Extraction(
            document_type=DocumentType.BANK_CARD, fields={"bank_card": field(number, confidence)}
        ),
    )


def check(*documents: DocumentRead, name: str = NAME, id_number: str = ID, bank_card: str = CARD):
    return cross_check(name, id_number, bank_card, documents, today=TODAY)


def codes(result) -> list[str]:
    return [r.code for r in result.declines + result.reviews]


def test_matching_documents_are_clear() -> None:
    result = check(front(), back("2035-03-07"), card())
    assert result.outcome == "clear"
    assert result.signals == {
        "name": "match",
        "id_number": "match",
        "id_expired": False,
        "bank_card": "match",
    }
    assert codes(result) == []


def test_no_documents_means_nothing_to_check() -> None:
    assert check().outcome == "no_documents"


def test_ocr_confusions_and_spacing_still_match() -> None:
    result = check(
        front(name="王 小明", id_number="11O1O5 1949l231 002x"), card(number="6222 O212 3456 7894")
    )
    assert result.outcome == "clear", result


def test_another_persons_id_card_declines() -> None:
    result = check(front(name="李四", id_number="110105198001011234"))
    assert result.outcome == "mismatch"
    assert codes(result) == ["DOC_IDENTITY_MISMATCH"]
    assert result.signals["name"] == "mismatch"


def test_an_unsure_reading_asks_for_a_new_photo_instead_of_declining() -> None:
    result = check(front(name="李四", confidence=0.6))
    assert result.outcome == "reupload"
    assert result.declines == []
    assert codes(result) == ["DOC_REUPLOAD_NEEDED"]


def test_one_misread_digit_is_unclear_not_a_mismatch() -> None:
    result = check(front(id_number="11010519491231003X"))
    assert result.signals["id_number"] == "unclear"
    assert result.outcome == "reupload"


def test_an_expired_id_card_goes_to_a_person() -> None:
    result = check(front(), back("2026-12-02"))
    assert result.signals["id_expired"] is True
    assert result.outcome == "review"
    assert codes(result) == ["DOC_ID_EXPIRED"]


def test_a_long_term_id_card_never_expires() -> None:
    assert check(front(), back("long_term")).outcome == "clear"


def test_a_different_bank_card_goes_to_a_person() -> None:
    result = check(card(number="6222021234567803"))
    assert result.signals["bank_card"] == "mismatch"
    assert codes(result) == ["DOC_CARD_MISMATCH"]
    assert result.outcome == "review"


def test_an_unreadable_document_asks_for_a_reupload() -> None:
    unreadable = DocumentRead(
        document_id="doc_blurry",
        document_type=DocumentType.ID_CARD_FRONT,
        extraction=Extraction(document_type=DocumentType.ID_CARD_FRONT, problems=["corrupt_image"]),
    )
    result = check(unreadable)
    assert result.outcome == "reupload"
    assert result.reupload == ["doc_blurry"]
    assert result.declines == []


def test_a_failed_check_digit_asks_for_a_reupload() -> None:
    result = check(
        front(id_number="110105194912310021", confidence=0.2, problems=["id_number_check_digit"])
    )
    assert result.outcome == "reupload"
    assert codes(result) == ["DOC_CHECK_FAILED"]


def test_compare_absent() -> None:
    assert compare(NAME, None, kind="name") == "absent"
