"""Issuer identification numbers (the first six digits) of common PRC debit cards.

A partial table: an unknown BIN is not an error (the card may still be valid), it only means the
issuer is not named. Values are (issuer, card length).
"""

from __future__ import annotations

BINS: dict[str, tuple[str, int]] = {
    "622202": ("中国工商银行", 19),
    "622208": ("中国工商银行", 19),
    "621226": ("中国工商银行", 19),
    "622848": ("中国农业银行", 19),
    "622845": ("中国农业银行", 19),
    "621700": ("中国建设银行", 19),
    "622700": ("中国建设银行", 19),
    "621660": ("中国银行", 19),
    "621661": ("中国银行", 19),
    "622588": ("招商银行", 16),
    "621483": ("招商银行", 16),
    "621485": ("招商银行", 16),
    "622262": ("交通银行", 19),
    "621799": ("中国邮政储蓄银行", 19),
    "622188": ("中国邮政储蓄银行", 19),
}


def issuer_for(card_number: str) -> str | None:
    """The issuing bank's name when the card's BIN is in the table."""
    known = BINS.get(card_number[:6])
    return known[0] if known else None
