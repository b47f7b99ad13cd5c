"""Fields from read documents: checks on the ID number and the card number, OCR look-alikes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from loanflow.extract import as_digits, extract, parse_date
from loanflow.models import DocumentType
from loanflow.ocr.blocks import RecognizedLine, build_blocks
from loanflow.ocr.vocabulary import find_labels

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "textract"


def page(*rows: tuple[str, ...], confidence: float = 0.97) -> dict:
    """A response whose rows hold the given lines, left to right (labels first)."""
    lines = []
    for r, row in enumerate(rows):
        x = 40.0
        for text in row:
            width = 30.0 * len(text)
            y = 40.0 + 60 * r
            lines.append(
                RecognizedLine(
                    text, [(x, y), (x + width, y), (x + width, y + 32), (x, y + 32)], confidence
                )
            )
            x += width + 40
    return build_blocks(lines, width=1000, height=60 * len(rows) + 80, find_labels=find_labels)


def front(
    id_number: str = "11010519491231002X", birth: str = "1949年12月31日", sex: str = "女"
) -> dict:
    return page(
        ("姓名", "王小明"),
        ("性别", sex, "民族", "汉"),
        ("出生", birth),
        ("住址", "北京市朝阳区建国路88号"),
        ("公民身份号码", id_number),
    )


def test_id_card_front_fields() -> None:
    x = extract(DocumentType.ID_CARD_FRONT, front())
    values = {k: v.value for k, v in x.fields.items()}
    assert values == {
        "name": "王小明",
        "sex": "F",
        "ethnicity": "汉",
        "birth_date": "1949-12-31",
        "address": "北京市朝阳区建国路88号",
        "id_number": "11010519491231002X",
    }
    assert x.problems == []
    assert x.readable
    assert x.fields["name"].confidence == 0.97


def test_look_alike_letters_in_the_id_number_are_read_as_digits() -> None:
    x = extract(DocumentType.ID_CARD_FRONT, front(id_number="11O1O5 1949 l231 002x"))
    assert x.fields["id_number"].value == "11010519491231002X"
    assert x.problems == []


def test_a_wrong_check_digit_is_a_problem_with_low_confidence() -> None:
    x = extract(DocumentType.ID_CARD_FRONT, front(id_number="110105194912310021"))
    assert x.problems == ["id_number_check_digit"]
    assert x.fields["id_number"].confidence <= 0.2


def test_birth_date_and_sex_are_checked_against_the_id_number() -> None:
    x = extract(DocumentType.ID_CARD_FRONT, front(birth="1950年1月1日", sex="男"))
    assert set(x.problems) == {"birth_date_mismatch", "sex_mismatch"}


def test_an_id_number_is_found_without_a_label() -> None:
    x = extract(DocumentType.ID_CARD_FRONT, page(("姓名", "李四"), ("11010519491231002X",)))
    assert x.fields["id_number"].value == "11010519491231002X"


def test_id_card_back_validity() -> None:
    x = extract(
        DocumentType.ID_CARD_BACK,
        page(("签发机关", "北京市公安局朝阳分局"), ("有效期限", "2015.03.07-2035.03.07")),
    )
    assert x.fields["issuing_authority"].value == "北京市公安局朝阳分局"
    assert x.fields["valid_from"].value == "2015-03-07"
    assert x.fields["valid_until"].value == "2035-03-07"
    long_term = extract(
        DocumentType.ID_CARD_BACK,
        page(
            ("有效期限", "2015.03.07-长期"),
        ),
    )
    assert long_term.fields["valid_until"].value == "long_term"


def test_bank_card_number_luhn_and_issuer() -> None:
    x = extract(
        DocumentType.BANK_CARD,
        page(("中国工商银行",), ("6222 0212 3456 7894",), ("VALID THRU 05/29",)),
    )
    assert x.fields["bank_card"].value == "6222021234567894"
    assert x.fields["issuer"].value == "中国工商银行"
    assert x.problems == []


def test_a_card_number_failing_luhn_is_a_problem() -> None:
    x = extract(
        DocumentType.BANK_CARD,
        page(
            ("6222 0212 3456 7895",),
        ),
    )
    assert x.problems == ["card_number_luhn"]
    assert x.fields["bank_card"].confidence <= 0.2


def test_an_unknown_bin_has_no_issuer() -> None:
    x = extract(
        DocumentType.BANK_CARD,
        page(
            ("4111 1111 1111 1111",),
        ),
    )
    assert x.fields["bank_card"].value == "4111111111111111"
    assert "issuer" not in x.fields


def test_nothing_read_is_unreadable() -> None:
    x = extract(
        DocumentType.BANK_CARD,
        page(
            ("银联 UnionPay",),
        ),
    )
    assert not x.readable
    assert x.fields == {}


def test_textract_query_answers_are_used() -> None:
    response = json.loads((FIXTURES / "analyze_document_bank_card.json").read_text())
    x = extract(DocumentType.BANK_CARD, response)
    assert x.fields["bank_card"].value == "6222021234567894"
    assert 0.9 < x.fields["bank_card"].confidence <= 1


def test_helpers() -> None:
    assert as_digits("6222 O2l2-3456 S894") == "6222021234565894"
    assert as_digits("1101051949123l002x", allow_final_x=True) == "11010519491231002X"
    assert parse_date("1990 年 3 月 7 日") == date(1990, 3, 7)
    assert parse_date("1990年13月7日") is None
