"""DecideFunction on its sample event: the policy's verdict recorded on the application."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loanflow.models import ApplicationRequest, ApplicationStatus
from loanflow.repository import application_repository
from tests.conftest import FakeLambdaContext
from tests.support.apigw import load_event
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body


@pytest.fixture
def decide(resources: Any) -> Any:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    return load_handler_module("decide")


def in_progress(**changes: Any) -> str:
    repo = application_repository()
    request = ApplicationRequest.model_validate(application_body(**changes))
    app = repo.create("user-1", request, actor="user:user-1")
    repo.transition(app.id, ApplicationStatus.SUBMITTED, actor="user:user-1")
    return repo.transition(app.id, ApplicationStatus.IN_PROGRESS, actor="workflow").id


def test_the_sample_event_is_approved_in_tier_a_with_a_priced_line(decide):
    event = {**load_event("decide.json"), "application_id": in_progress(monthly_income="12000.00")}

    answer = decide.handler(event, FakeLambdaContext("loanflow-DecideFunction"))

    assert (answer["outcome"], answer["tier"]) == ("approved", "A")
    # min(8 × income = 96 000, PV of (0.5 × 12 000 − 1 200) a month at 8.52% for 12 months ≈ 55 067)
    assert answer["credit_line"] == "55000.00"
    assert answer["apr"] == "0.0852"  # 6% + 1.2 × 0.021
    json.dumps(answer)
    app = application_repository().get(event["application_id"])
    assert app.status == "APPROVED"
    assert app.decision.score == 742


def test_a_bureau_outage_goes_to_review_without_a_score(decide):
    event = load_event("decide.json")
    event.update(
        application_id=in_progress(),
        bureau={"available": False, "has_file": False, "reason": "HTTP 503"},
        score={},
    )

    answer = decide.handler(event, FakeLambdaContext("loanflow-DecideFunction"))

    assert (answer["outcome"], answer["tier"], answer["pd"]) == ("review", "C", None)
    assert [r["code"] for r in answer["reasons"]] == ["BUREAU_UNAVAILABLE"]
    assert application_repository().get(event["application_id"]).status == "IN_REVIEW"


def test_no_room_in_the_income_declines_for_capacity(decide):
    event = load_event("decide.json")
    event["application_id"] = in_progress(monthly_income="3000.00")
    event["bureau"]["monthly_debt_payments"] = "1490.00"
    event["bureau"]["features"]["debt_to_income"] = 0.4967

    answer = decide.handler(event, FakeLambdaContext("loanflow-DecideFunction"))

    assert answer["outcome"] == "declined"
    assert [r["code"] for r in answer["reasons"]] == ["INSUFFICIENT_CAPACITY"]
