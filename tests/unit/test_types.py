"""The shared constrained types: PRC resident ID, mobile number, bank card, money."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from loanflow.types import (
    BankCard,
    IdNumber,
    LoanAmount,
    Phone,
    id_birth_date,
    id_check_char,
    id_sex,
    luhn_check_digit,
    luhn_valid,
    validate_id_number,
)
from tests.support.identities import REGIONS, make_id_number

ID = TypeAdapter(IdNumber)
CARD = TypeAdapter(BankCard)
PHONE = TypeAdapter(Phone)
AMOUNT = TypeAdapter(LoanAmount)

births = st.dates(min_value=date(1930, 1, 1), max_value=date.today() - timedelta(days=1))
valid_ids = st.builds(
    make_id_number, births, region=st.sampled_from(REGIONS), sequence=st.integers(0, 999)
)


def test_the_standard_example_is_valid() -> None:
    # GB 11643's worked example: 11010519491231002X
    assert ID.validate_python("11010519491231002x") == "11010519491231002X"
    assert id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert id_sex("11010519491231002X") == "F"


@given(valid_ids)
def test_generated_ids_pass(id_number: str) -> None:
    assert validate_id_number(id_number) == id_number


@given(valid_ids, st.integers(0, 17), st.integers(1, 10))
def test_any_single_changed_character_fails(id_number: str, position: int, shift: int) -> None:
    alphabet = "0123456789X" if position == 17 else "0123456789"
    current = alphabet.index(id_number[position])
    replacement = alphabet[(current + shift) % len(alphabet)]
    if replacement == id_number[position]:
        return
    mutated = id_number[:position] + replacement + id_number[position + 1 :]
    with pytest.raises(ValueError):
        validate_id_number(mutated)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1101051949123100", "too short"),
        ("110105194912310021X", "too long"),
        ("11010519491331002X", "month 13"),
        ("11010519490230002X", "30 February"),
        ("01010519491231002X", "region starting with 0"),
        ("7101051949123100ZX", "letter in the body"),
    ],
)
def test_malformed_ids_fail(value: str, why: str) -> None:
    with pytest.raises(ValidationError):
        ID.validate_python(value)


def test_future_birth_date_fails() -> None:
    first17 = f"110105{date.today() + timedelta(days=30):%Y%m%d}001"
    with pytest.raises(ValueError, match="impossible"):
        validate_id_number(first17 + id_check_char(first17))


@given(st.text(alphabet="0123456789", min_size=15, max_size=18))
def test_luhn_check_digit_completes_any_prefix(prefix: str) -> None:
    card = prefix + luhn_check_digit(prefix)
    assert luhn_valid(card)
    assert CARD.validate_python(card) == card


def test_card_with_wrong_check_digit_fails() -> None:
    with pytest.raises(ValidationError, match="Luhn"):
        CARD.validate_python("6222021234567895")


def test_card_spaces_are_ignored() -> None:
    assert CARD.validate_python("6222 0212 3456 7894") == "6222021234567894"


@pytest.mark.parametrize("raw", ["13812345678", "+86 138-1234-5678", "0086 13812345678"])
def test_phone_forms_normalise(raw: str) -> None:
    assert PHONE.validate_python(raw) == "13812345678"


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "23812345678", "phone"])
def test_bad_phones_fail(raw: str) -> None:
    with pytest.raises(ValidationError):
        PHONE.validate_python(raw)


def test_money_is_decimal_with_two_places() -> None:
    assert AMOUNT.validate_python("5000") == Decimal("5000.00")
    assert AMOUNT.dump_json(Decimal("5000")) == b'"5000.00"'


@pytest.mark.parametrize("raw", ["12.345", "abc", "NaN", 5000.5, "100.00", "999999.00"])
def test_bad_amounts_fail(raw: object) -> None:
    with pytest.raises(ValidationError):
        AMOUNT.validate_python(raw)
