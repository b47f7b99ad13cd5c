"""Policy: hard declines, tiers by PD, review triggers, plain-word reasons, config validation."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from loanflow.features import ScoringFeatures
from loanflow.policy import (
    DEFAULT_POLICY,
    REASON_TEXTS,
    PolicyConfig,
    PolicyInput,
    decide,
    reason,
    tier_for_pd,
)

GOOD = ScoringFeatures(
    age=35,
    monthly_income=15000,
    employment="salaried",
    requested_amount=20000,
    term_months=12,
    debt_to_income=0.1,
    bureau_score=760,
    bureau_history_months=96,
    bureau_open_accounts=3,
    bureau_utilization=0.2,
    form_fill_seconds=180,
)


def policy_input(pd: float = 0.02, **changes) -> PolicyInput:
    features = GOOD.model_copy(update=changes)
    return PolicyInput(features=features, pd=pd)


def test_low_pd_is_tier_a_and_approved():
    decision = decide(policy_input(pd=0.02), DEFAULT_POLICY)

    assert (decision.outcome, decision.tier, decision.reasons) == ("approved", "A", [])


@pytest.mark.parametrize(
    ("pd", "tier"), [(0.0, "A"), (0.04, "A"), (0.07, "B"), (0.15, "C"), (0.5, "D")]
)
def test_tiers_follow_the_configured_pd_bands(pd, tier):
    assert tier_for_pd(pd, DEFAULT_POLICY) == tier


def test_tier_c_goes_to_review_with_priority():
    decision = decide(policy_input(pd=0.15), DEFAULT_POLICY)

    assert (decision.outcome, decision.tier) == ("review", "C")
    assert decision.reasons[0].code == "BORDERLINE_RISK"
    assert 0 < decision.review_priority <= 999


def test_tier_d_declines_with_the_models_adverse_reasons():
    model_reasons = [reason("DEBT_TOO_HIGH")]
    decision = decide(
        PolicyInput(features=GOOD, pd=0.6, score_reasons=model_reasons), DEFAULT_POLICY
    )

    assert decision.outcome == "declined"
    assert [r.code for r in decision.reasons] == ["HIGH_RISK_SCORE", "DEBT_TOO_HIGH"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"bureau_max_dpd_24m": 90}, "SERIOUS_DELINQUENCY"),
        ({"debt_to_income": 0.8}, "DEBT_TOO_HIGH"),
        ({"monthly_income": 1000}, "INCOME_TOO_LOW"),
        ({"velocity_id_24h": 6}, "TOO_MANY_APPLICATIONS"),
        ({"bureau_inquiries_6m": 20}, "TOO_MANY_INQUIRIES"),
    ],
)
def test_hard_rules_decline_even_a_low_pd(change, code):
    decision = decide(policy_input(pd=0.01, **change), DEFAULT_POLICY)

    assert decision.outcome == "declined"
    assert code in [r.code for r in decision.reasons]


def test_bureau_outage_sends_an_approvable_applicant_to_review():
    p = PolicyInput(features=GOOD, pd=0.02, bureau_available=False, has_bureau_file=False)
    decision = decide(p, DEFAULT_POLICY)

    assert decision.outcome == "review"
    assert decision.reasons[0].code == "BUREAU_UNAVAILABLE"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"form_fill_seconds": 5}, "FORM_FILLED_TOO_FAST"),
        ({"device_ip_mismatch": 1}, "DEVICE_LOCATION_MISMATCH"),
    ],
)
def test_fraud_signals_send_to_review(change, code):
    decision = decide(policy_input(pd=0.02, **change), DEFAULT_POLICY)

    assert decision.outcome == "review"
    assert [r.code for r in decision.reasons] == [code]


def test_every_reason_reads_as_a_sentence():
    for code in REASON_TEXTS:
        values = {"max_age": 60, "min_income": 1500, "max_dpd": 60}
        text = reason(code, **values).text
        assert text.endswith(".")
        assert "{" not in text


def test_config_rejects_an_apr_cap_above_the_legal_cap():
    with pytest.raises(ValidationError):
        PolicyConfig(apr_cap=Decimal("0.36"))


def test_config_rejects_unordered_tiers():
    with pytest.raises(ValidationError):
        PolicyConfig(tier_a_max_pd=0.2, tier_b_max_pd=0.1)


def test_the_template_deploys_the_default_policy():
    from localcloud.template import load_template

    parameter = load_template()["Resources"]["CreditPolicyParameter"]["Properties"]

    assert PolicyConfig.model_validate_json(parameter["Value"]) == DEFAULT_POLICY
