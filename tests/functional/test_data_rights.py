"""DELETE /me: personal data is erased where nothing needs it, kept where the law does."""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest

from loanflow.models import ApplicationStatus as S
from loanflow.repository import ApplicationRepository
from tests.support.apigw import call, http_event
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body


@pytest.fixture
def api(resources: Any) -> Any:
    return load_handler_module("api")


@pytest.fixture
def repo(resources: Any) -> ApplicationRepository:
    return ApplicationRepository(resources.names["LoanflowTable"])


def create(api: Any, ctx: Any, body: dict, key: str, user: str = "user-1") -> str:
    event = http_event(
        "POST", "/applications", body=body, user=user, headers={"idempotency-key": key}
    )
    status, answer = call(api, event, ctx)
    assert status == 201, answer
    return str(answer["id"])


def test_erasure_removes_pii_and_keeps_the_record(
    api: Any, lambda_context: Any, repo: ApplicationRepository, resources: Any
) -> None:
    # given a draft and a declined application
    body = application_body(random.Random(1))
    draft = create(api, lambda_context, body, "erase-key-1")
    declined = create(api, lambda_context, application_body(random.Random(2)), "erase-key-2")
    for status in (S.SUBMITTED, S.IN_PROGRESS, S.DECLINED):
        repo.transition(declined, status, actor="workflow")
    # when
    status, report = call(api, http_event("DELETE", "/me"), lambda_context)
    # then
    assert status == 200, report
    assert sorted(report["erased"]) == sorted([draft, declined])
    raw = str(boto3.resource("dynamodb").Table(resources.names["LoanflowTable"]).scan()["Items"])
    for field in ("id_number", "phone", "bank_card", "name", "address"):
        assert str(body[field]) not in raw
    status, view = call(api, http_event("GET", f"/applications/{draft}"), lambda_context)
    assert status == 200
    assert view["status"] == "CANCELLED"
    assert view["applicant"]["amount"] == "5000.00"
    assert view["timeline"][-1]["action"] == "personal_data_erased"


def test_an_application_in_flight_blocks_erasure(
    api: Any, lambda_context: Any, repo: ApplicationRepository
) -> None:
    busy = create(api, lambda_context, application_body(), "erase-key-3")
    repo.transition(busy, S.SUBMITTED, actor="user:user-1")
    status, body = call(api, http_event("DELETE", "/me"), lambda_context)
    assert status == 409
    assert body["error"]["code"] == "erasure_blocked"
    assert repo.get(busy).request.id_number != "[erased]"


def test_a_funded_loan_keeps_its_identity_data(
    api: Any, lambda_context: Any, repo: ApplicationRepository
) -> None:
    funded = create(api, lambda_context, application_body(), "erase-key-4")
    for status in (
        S.SUBMITTED,
        S.IN_PROGRESS,
        S.APPROVED,
        S.AWAITING_SIGNATURE,
        S.SIGNED,
        S.DISBURSING,
        S.FUNDED,
    ):
        repo.transition(funded, status, actor="workflow")
    status, report = call(api, http_event("DELETE", "/me"), lambda_context)
    assert status == 200
    assert report["retained"] == [funded]
    assert "law" in report["retained_reason"]
    assert repo.get(funded).request.id_number != "[erased]"


def test_erasure_touches_only_the_callers_data(
    api: Any, lambda_context: Any, repo: ApplicationRepository
) -> None:
    other = create(api, lambda_context, application_body(), "erase-key-5", user="someone-else")
    call(api, http_event("DELETE", "/me"), lambda_context)
    assert repo.get(other).status == S.DRAFT
    assert repo.get(other).request.id_number != "[erased]"
