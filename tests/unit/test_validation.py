"""ValidateApplicant's knock-outs: age at the end of the term, blocked lists, the form features."""

from __future__ import annotations

from datetime import UTC, date, datetime

import boto3
import pytest

from loanflow.models import Application, ApplicationRequest
from loanflow.policy import DEFAULT_POLICY
from loanflow.validation import Blocklist, form_features, knock_outs, validate_applicant
from tests.support.identities import application_body, make_id_number

TODAY = date(2026, 12, 3)
AT = datetime(2026, 12, 3, 2, 30, tzinfo=UTC)  # 10:30 in Beijing


def application(**changes) -> Application:
    request = ApplicationRequest.model_validate(application_body(**changes))
    return Application(id="app_01JDZ8Q7Y0000000000000000A", owner_id="u", request=request)


@pytest.mark.parametrize(
    ("birth", "term", "knocked_out"),
    [
        (date(2008, 12, 4), 12, True),  # 17 today
        (date(2008, 12, 3), 12, False),  # 18 today
        (date(1967, 1, 1), 12, False),  # 60 when the loan ends
        (date(1966, 6, 1), 12, True),  # 61 when the loan ends
        (date(1968, 6, 1), 36, True),  # 58 today, 61 when a 3-year loan ends
    ],
)
def test_age_must_be_18_today_and_at_most_60_when_the_loan_ends(birth, term, knocked_out):
    app = application(id_number=make_id_number(birth), term_months=term)

    reasons = knock_outs(app, DEFAULT_POLICY, set(), TODAY)

    assert (reasons != []) is knocked_out
    if knocked_out:
        assert reasons[0].code == "AGE_OUT_OF_RANGE"


@pytest.mark.parametrize("kind", ["ID", "PHONE", "DEVICE"])
def test_each_blocked_list_knocks_out(kind):
    reasons = knock_outs(application(), DEFAULT_POLICY, {kind}, TODAY)

    assert [r.code for r in reasons] == [f"BLOCKED_{kind}"]


def test_form_features_are_read_in_beijing_time():
    app = application(monthly_income="8000.00", amount="3000.00", term_months=6)

    features = form_features(app, AT, returning_customer=True)

    assert features["application_hour"] == 10
    assert features["monthly_income"] == 8000.0
    assert features["requested_amount"] == 3000.0
    assert features["returning_customer"] == 1


def test_the_blocklist_is_looked_up_by_keyed_hash(resources):
    table = boto3.resource("dynamodb").Table(resources.names["LoanflowTable"])
    blocklist = Blocklist(table)
    app = application()
    from loanflow import pii

    blocklist.add(
        "ID", pii.keyed_hash(app.request.id_number, purpose="id"), reason_text="fraud", actor="ops"
    )

    result = validate_applicant(app, DEFAULT_POLICY, blocklist, submitted_at=AT)

    assert result.passed is False
    assert [r.code for r in result.reasons] == ["BLOCKED_ID"]
    assert result.features == {}
    stored = table.scan()["Items"]
    assert app.request.id_number not in str(stored), "plain ID numbers never become keys"
