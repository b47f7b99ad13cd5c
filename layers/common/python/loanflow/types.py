"""Shared constrained types: PRC resident ID, PRC mobile number, bank card, money.

Each is an ``Annotated`` type usable in any pydantic model; the pure check functions are exported
for the places that need them outside a model (OCR extraction, cross-checks).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

# --- PRC resident identity card number (GB 11643-1999, ISO 7064 MOD 11-2) -----------------------

ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
_ID_RE = re.compile(r"^[1-9]\d{16}[\dX]$")
# First digit of the administrative division code: 1–6 are the mainland regions, 7/8 HK/MO/TW
# residence permits and 9 foreigners' permanent residence (all use the same checksum).
_VALID_REGION_FIRST = set("12345689")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def id_birth_date(id_number: str) -> date:
    """The birth date encoded in digits 7–14 (raises ValueError when it is not a real date)."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def id_sex(id_number: str) -> str:
    """'M' or 'F' from the 17th digit (odd: male)."""
    return "M" if int(id_number[16]) % 2 else "F"


def age_on(birth: date, on: date) -> int:
    """Whole years from ``birth`` to ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def validate_id_number(value: str, *, today: date | None = None) -> str:
    """Normalise (strip, upper-case 'x') and validate an 18-character resident ID number."""
    if not isinstance(value, str):
        raise ValueError("ID number must be a string")
    v = value.strip().upper()
    if not _ID_RE.match(v):
        raise ValueError("ID number must be 17 digits followed by a digit or X")
    if v[0] not in _VALID_REGION_FIRST:
        raise ValueError("ID number has an unknown region code")
    try:
        birth = id_birth_date(v)
    except ValueError as exc:
        raise ValueError("ID number does not encode a real birth date") from exc
    today = today or date.today()
    if birth > today or birth.year < 1900:
        raise ValueError("ID number encodes an impossible birth date")
    if id_check_char(v[:17]) != v[17]:
        raise ValueError("ID number check digit is wrong")
    return v


IdNumber = Annotated[
    str,
    AfterValidator(validate_id_number),
    Field(
        description="18-character PRC resident ID (GB 11643 check digit)",
        examples=["11010519491231002X"],
    ),
]

# --- PRC mobile number -------------------------------------------------------------------------

_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def validate_phone(value: str) -> str:
    """Accept '13812345678', '+86 138-1234-5678', '0086 13812345678'; return the 11 digits."""
    if not isinstance(value, str):
        raise ValueError("phone must be a string")
    v = re.sub(r"[\s\-()]", "", value)
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("0086"):
        v = v[4:]
    if not _PHONE_RE.match(v):
        raise ValueError("phone must be a PRC mobile number: 11 digits starting 13–19")
    return v


Phone = Annotated[
    str,
    AfterValidator(validate_phone),
    Field(description="PRC mobile number (11 digits, 13x–19x)", examples=["13812345678"]),
]

# --- Bank card ---------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` pass Luhn."""
    for d in "0123456789":
        if luhn_valid(partial + d):
            return d
    raise AssertionError("unreachable: one of ten digits always fits")


def validate_bank_card(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError("bank card must be a string")
    v = re.sub(r"[\s\-]", "", value)
    if not v.isdigit() or not 16 <= len(v) <= 19:
        raise ValueError("bank card must be 16 to 19 digits")
    if not luhn_valid(v):
        raise ValueError("bank card number fails the Luhn check")
    return v


BankCard = Annotated[
    str,
    AfterValidator(validate_bank_card),
    Field(description="Debit card number, 16–19 digits, Luhn-valid", examples=["6222021234567894"]),
]

# --- Money -------------------------------------------------------------------------------------

CENT = Decimal("0.01")
MIN_LOAN = Decimal("500.00")
MAX_LOAN = Decimal("200000.00")


def to_money(value: object) -> Decimal:
    """Parse a CNY amount given as a decimal string (or int) with at most 2 decimal places."""
    if isinstance(value, bool | float):
        raise ValueError('money must be a decimal string such as "5000.00", not a float')
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError('money must be a decimal string such as "5000.00"') from exc
    if not d.is_finite():
        raise ValueError("money must be a finite amount")
    if d != d.quantize(CENT):
        raise ValueError("money has at most 2 decimal places (fen)")
    return d.quantize(CENT)


def money_str(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


Money = Annotated[
    Decimal,
    BeforeValidator(to_money),
    Field(ge=Decimal("0"), le=Decimal("100000000"), description="CNY amount, 2 decimal places"),
    PlainSerializer(money_str, return_type=str, when_used="json"),
]

LoanAmount = Annotated[
    Decimal,
    BeforeValidator(to_money),
    Field(
        ge=MIN_LOAN,
        le=MAX_LOAN,
        description=f"Requested principal in CNY, {MIN_LOAN}–{MAX_LOAN}, as a decimal string",
        examples=["5000.00"],
    ),
    PlainSerializer(money_str, return_type=str, when_used="json"),
]
