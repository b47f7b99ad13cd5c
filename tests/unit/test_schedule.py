"""等额本息: level installments whose sums are exact to the fen (property-based)."""

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from loanflow.schedule import add_months, equal_installment_schedule, level_payment, total_interest

principals = st.decimals(min_value="500", max_value="200000", places=2)
aprs = st.decimals(min_value="0", max_value="0.24", places=4)
terms = st.integers(min_value=1, max_value=36)
starts = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=300, deadline=None)
@given(principal=principals, apr=aprs, term=terms, start=starts)
def test_installments_sum_exactly_to_principal_plus_interest(principal, apr, term, start):
    schedule = equal_installment_schedule(principal, apr, term, start)

    assert len(schedule) == term
    assert sum(i.principal for i in schedule) == principal
    assert sum(i.payment for i in schedule) == principal + total_interest(schedule)
    assert schedule[-1].balance == Decimal("0.00")
    assert all(i.payment == i.principal + i.interest for i in schedule)
    assert all(i.payment.as_tuple().exponent == -2 for i in schedule)


@settings(max_examples=300, deadline=None)
@given(principal=principals, apr=aprs, term=terms, start=starts)
def test_every_installment_but_the_last_is_level_and_the_last_absorbs_rounding(
    principal, apr, term, start
):
    schedule = equal_installment_schedule(principal, apr, term, start)
    payment = level_payment(principal, apr, term)

    assert all(i.payment == payment for i in schedule[:-1])
    # Rounding to the fen over ≤ 36 months moves the last installment by well under a yuan.
    assert abs(schedule[-1].payment - payment) <= Decimal("0.50")
    assert all(i.balance >= 0 for i in schedule)


def test_known_schedule_matches_the_textbook_formula():
    # 10 000 CNY at 12% APR over 12 months: the level payment is 888.49 (1% a month).
    schedule = equal_installment_schedule(
        Decimal("10000.00"), Decimal("0.12"), 12, date(2026, 1, 31)
    )

    assert schedule[0].payment == Decimal("888.49")
    assert schedule[0].interest == Decimal("100.00")
    assert schedule[0].due_date == date(2026, 2, 28)
    assert schedule[-1].due_date == date(2027, 1, 31)
    assert total_interest(schedule) == sum(i.payment for i in schedule) - Decimal("10000.00")


def test_zero_rate_splits_the_principal_evenly():
    schedule = equal_installment_schedule(Decimal("1000.00"), Decimal("0"), 3, date(2026, 1, 1))

    assert [i.payment for i in schedule] == [
        Decimal("333.33"),
        Decimal("333.33"),
        Decimal("333.34"),
    ]


def test_add_months_clamps_to_the_end_of_short_months():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
