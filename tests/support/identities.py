"""Valid synthetic identities for tests: PRC resident ID numbers, phones and bank cards."""

from __future__ import annotations

import random
from datetime import date, timedelta

from loanflow.types import id_check_char, luhn_check_digit

REGIONS = ("110105", "310115", "440305", "330106", "510104", "420102", "320102", "610113")


def make_id_number(birth: date, *, region: str = "110105", sequence: int = 123) -> str:
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


def make_bank_card(prefix: str = "622202", length: int = 16, *, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return body + luhn_check_digit(body)


def random_identity(rng: random.Random, *, age: int | None = None) -> dict[str, str]:
    years = age if age is not None else rng.randint(22, 50)
    birth = date.today() - timedelta(days=365 * years + rng.randint(10, 300))
    return {
        "id_number": make_id_number(
            birth, region=rng.choice(REGIONS), sequence=rng.randint(0, 999)
        ),
        "phone": f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
        "bank_card": make_bank_card(rng=rng),
    }


def application_body(rng: random.Random | None = None, **overrides: object) -> dict[str, object]:
    """A complete, valid ``POST /applications`` body."""
    rng = rng or random.Random(7)
    body: dict[str, object] = {
        "name": "张三",
        **random_identity(rng),
        "address": "北京市朝阳区建国路88号",
        "monthly_income": "12000.00",
        "employment": "salaried",
        "amount": "5000.00",
        "term_months": 12,
        "purpose": "consumption",
        "device": {
            "device_id": f"dev-{rng.randint(0, 10**8)}",
            "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "app_version": "3.2.1",
            "form_fill_seconds": 95.0,
        },
    }
    body.update(overrides)
    return body
