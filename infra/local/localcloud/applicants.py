"""Seeded synthetic applicants for the demo: valid identities, a spread of risk.

ID numbers carry a real GB 11643 check character, bank cards a Luhn digit, phones a PRC mobile
prefix. Profiles are drawn so that outcomes vary: steady earners asking for little (approvals),
thin or stretched profiles (reviews and tier C), and knock-outs (under-age, tiny income, hasty form
filling from one shared device).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from loanflow.types import id_check_char, luhn_check_digit

REGIONS = ("110105", "310115", "440305", "330106", "510104", "420102", "320102", "610113")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
CARD_PREFIXES = ("622202", "621700", "622848", "621226", "622588")
PURPOSES = ("consumption", "education", "medical", "travel", "home_improvement", "emergency")


@dataclass(frozen=True)
class Profile:
    """A kind of applicant and how often it appears."""

    name: str
    weight: float
    age: tuple[int, int]
    income: tuple[int, int]
    amount_months_of_income: tuple[float, float]
    employment: tuple[str, ...]
    form_fill_seconds: tuple[float, float] = (60.0, 400.0)


PROFILES = (
    Profile("steady", 0.45, (26, 50), (9000, 30000), (0.3, 1.5), ("salaried", "civil_servant")),
    Profile("stretched", 0.25, (22, 45), (4000, 9000), (1.5, 5.0), ("self_employed", "freelance")),
    Profile("thin_file", 0.15, (19, 24), (2500, 6000), (0.5, 2.0), ("student", "freelance")),
    Profile("knock_out", 0.15, (16, 70), (200, 1400), (4.0, 10.0), ("unemployed",), (3.0, 12.0)),
)


def id_number(rng: random.Random, birth: date) -> str:
    first17 = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + id_check_char(first17)


def bank_card(rng: random.Random) -> str:
    prefix = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(18 - len(prefix)))
    return body + luhn_check_digit(body)


def phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"


def _money(value: float, step: int = 100) -> str:
    return str(Decimal(int(value // step * step)).quantize(Decimal("0.01")))


def applicant(rng: random.Random, today: date | None = None) -> tuple[str, dict[str, Any]]:
    """(profile name, a ``POST /applications`` body)."""
    today = today or date.today()
    profile = rng.choices(PROFILES, weights=[p.weight for p in PROFILES])[0]
    age = rng.randint(*profile.age)
    birth = today - timedelta(days=365 * age + rng.randint(30, 330))
    income = rng.uniform(*profile.income)
    amount = min(max(income * rng.uniform(*profile.amount_months_of_income), 500), 200_000)
    body = {
        "name": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2))),
        "id_number": id_number(rng, birth),
        "phone": phone(rng),
        "bank_card": bank_card(rng),
        "address": f"{rng.choice(['北京市朝阳区', '上海市浦东新区', '深圳市南山区'])}"
        f"建设路{rng.randint(1, 300)}号",
        "monthly_income": _money(income, 10),
        "employment": rng.choice(profile.employment),
        "amount": _money(max(amount, 500)),
        "term_months": rng.choice((3, 6, 12, 12, 18, 24, 36)),
        "purpose": rng.choice(PURPOSES),
        "device": {
            "device_id": f"dev-{rng.randint(0, 10**10):010d}"
            if profile.name != "knock_out"
            else "dev-shared-0001",
            "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "app_version": "3.2.1",
            "form_fill_seconds": round(rng.uniform(*profile.form_fill_seconds), 1),
        },
    }
    return profile.name, body


def applicants(n: int, seed: int = 2026) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    return [applicant(rng) for _ in range(n)]
