"""Pricing: APR within the legal cap, credit line within bounds and affordability."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanflow.policy import APR_LEGAL_CAP, PolicyConfig
from loanflow.pricing import credit_line, make_offer, price_apr
from loanflow.schedule import level_payment

CONFIG = PolicyConfig()


@settings(max_examples=200, deadline=None)
@given(pd=st.floats(min_value=0, max_value=1), tier=st.sampled_from(["A", "B", "C"]))
def test_apr_never_exceeds_the_24_percent_cap(pd, tier):
    apr = price_apr(pd, tier, CONFIG)

    assert CONFIG.tiers[tier].apr_floor <= apr <= APR_LEGAL_CAP


def test_apr_rises_with_risk():
    assert price_apr(0.01, "A", CONFIG) < price_apr(0.08, "B", CONFIG) < price_apr(0.2, "C", CONFIG)


def test_tier_d_is_not_priced():
    with pytest.raises(ValueError):
        price_apr(0.5, "D", CONFIG)


@settings(max_examples=200, deadline=None)
@given(
    income=st.decimals(min_value="1500", max_value="100000", places=2),
    debt=st.decimals(min_value="0", max_value="20000", places=2),
    term=st.integers(min_value=3, max_value=36),
    tier=st.sampled_from(["A", "B", "C"]),
)
def test_credit_line_is_affordable_and_within_bounds(income, debt, term, tier):
    apr = price_apr(0.05, tier, CONFIG)
    line = credit_line(tier, income, debt, apr, term, CONFIG)

    if line == 0:
        return
    assert CONFIG.product_min_line <= line <= CONFIG.tiers[tier].max_line
    assert line <= income * CONFIG.tiers[tier].income_multiple
    assert line % CONFIG.line_step == 0
    # The new installment plus existing debt stays within the DTI limit (to a fen of rounding).
    installment = level_payment(line, apr, term)
    limit = income * Decimal(str(CONFIG.max_debt_to_income_after_loan))
    assert debt + installment <= limit + Decimal("0.01")


def test_risk_tolerance_scales_lines():
    cautious = CONFIG.model_copy(update={"risk_tolerance": Decimal("0.5")})
    apr = Decimal("0.1")
    full = credit_line("A", Decimal("10000"), Decimal("0"), apr, 12, CONFIG)
    half = credit_line("A", Decimal("10000"), Decimal("0"), apr, 12, cautious)

    assert half == full / 2


def test_no_line_when_existing_debt_uses_up_the_income():
    assert credit_line("B", Decimal("5000"), Decimal("2600"), Decimal("0.15"), 12, CONFIG) == 0


def test_offer_lends_the_requested_amount_up_to_the_line():
    offer = make_offer(
        requested_amount=Decimal("50000.00"),
        line=Decimal("30000.00"),
        apr=Decimal("0.18"),
        term_months=12,
        start=date(2026, 12, 3),
    )

    assert offer.amount == Decimal("30000.00")
    assert offer.installment == offer.schedule[0].payment
    assert sum(i.payment for i in offer.schedule) == offer.amount + offer.total_interest
