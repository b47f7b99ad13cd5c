"""The contract PDF: Chinese text set in an embedded CJK font, deterministic bytes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache

from loanflow.contract import ContractTerms, font_path, render_pdf, sha256_hex
from loanflow.pricing import make_offer


def terms(amount: str = "5000.00") -> ContractTerms:
    offer = make_offer(
        requested_amount=Decimal(amount),
        line=Decimal("8000.00"),
        apr=Decimal("0.1800"),
        term_months=12,
        start=date(2026, 12, 3),
        now=datetime(2026, 12, 3, tzinfo=UTC),
    )
    return ContractTerms(
        contract_no="LF-TEST",
        borrower_name="张三",
        borrower_id_masked="1101**********002X",
        account_masked="**** 7894",
        offer=offer,
        issued_on=datetime(2026, 12, 3, tzinfo=UTC),
    )


@cache
def rendered(amount: str = "5000.00") -> bytes:
    return render_pdf(terms(amount))


def test_the_font_is_a_cjk_font_that_exists() -> None:
    assert font_path().is_file()
    assert "wqy" in font_path().name


def test_the_pdf_embeds_the_font_and_maps_chinese_text() -> None:
    pdf = rendered()
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile2" in pdf
    # the ToUnicode map lets readers extract (and search) the Chinese text: 借 is U+501F
    cmap = pdf[pdf.index(b"beginbfchar") : pdf.index(b"endcmap")]
    for char in "借款合同甲方乙方":
        assert f"<{ord(char):04X}>".encode() in cmap


def test_the_same_terms_give_the_same_hash_and_other_terms_another() -> None:
    assert sha256_hex(rendered()) == sha256_hex(render_pdf(terms()))
    assert sha256_hex(rendered()) != sha256_hex(rendered("6000.00"))
