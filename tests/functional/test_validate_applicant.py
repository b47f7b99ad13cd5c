"""ValidateApplicantFunction: SUBMITTED → IN_PROGRESS, knock-outs decline, retries are harmless."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from loanflow.models import ApplicationRequest, ApplicationStatus
from loanflow.repository import application_repository
from tests.conftest import FakeLambdaContext
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body, make_id_number


@pytest.fixture
def validate(resources: Any) -> Any:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    return load_handler_module("validate_applicant")


def submitted(**changes: Any) -> str:
    repo = application_repository()
    request = ApplicationRequest.model_validate(application_body(**changes))
    app = repo.create("user-1", request, actor="user:user-1")
    return repo.transition(app.id, ApplicationStatus.SUBMITTED, actor="user:user-1").id


def test_a_valid_applicant_passes_with_the_form_features(validate):
    application_id = submitted(monthly_income="9000.00")

    answer = validate.handler({"application_id": application_id}, FakeLambdaContext())

    assert answer["passed"] is True
    assert answer["features"]["monthly_income"] == 9000.0
    assert application_repository().get(application_id).status == "IN_PROGRESS"


def test_a_retried_knock_out_gives_the_same_answer(validate):
    too_old = make_id_number(date(date.today().year - 59, 1, 1))
    application_id = submitted(id_number=too_old, term_months=24)
    event = {"application_id": application_id}

    first = validate.handler(event, FakeLambdaContext())
    again = validate.handler(event, FakeLambdaContext())

    assert first == again
    assert [r["code"] for r in first["reasons"]] == ["AGE_OUT_OF_RANGE"]
    assert application_repository().get(application_id).status == "DECLINED"
