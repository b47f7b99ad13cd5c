"""POST /applications/{id}/submit: DRAFT → SUBMITTED, the intake message on the right lane."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from loanflow.models import ApplicationRequest
from loanflow.repository import application_repository
from tests.support.identities import application_body
from tests.support.routes import request, workflow_api


@pytest.fixture
def api(resources: Any) -> Any:
    return workflow_api()


def draft(owner: str = "user-1", **changes: Any) -> str:
    body = ApplicationRequest.model_validate(application_body(**changes))
    return application_repository().create(owner, body, actor=f"user:{owner}").id


def messages(resources: Any, queue: str) -> list[dict]:
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=resources.queue_urls[queue], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_submit_accepts_the_draft_and_queues_it(api, resources):
    application_id = draft(monthly_income="6000.00")

    status, body = request(api, "POST", f"/applications/{application_id}/submit")

    assert status == 202
    assert body == {"id": application_id, "status": "SUBMITTED", "lane": "standard"}
    assert messages(resources, "IntakeQueue") == [
        {"application_id": application_id, "lane": "standard"}
    ]
    app = application_repository().get(application_id)
    assert app.status == "SUBMITTED"
    assert "submitted_at" in app.extra


def test_a_top_prescreen_goes_to_the_fast_lane(api, resources):
    application_id = draft(monthly_income="15000.00", employment="civil_servant", amount="8000.00")

    status, body = request(api, "POST", f"/applications/{application_id}/submit")

    assert (status, body["lane"]) == (202, "fast")
    assert messages(resources, "FastIntakeQueue")[0]["application_id"] == application_id
    assert messages(resources, "IntakeQueue") == []


def test_a_returning_customer_in_good_standing_goes_to_the_fast_lane(api, resources):
    from loanflow import pii
    from loanflow.workflow import customer_key, table

    body = application_body(monthly_income="4000.00", employment="freelance")
    id_hash = pii.keyed_hash(body["id_number"], purpose="id")
    table().put_item(Item={**customer_key(id_hash), "loans_repaid": 2, "in_arrears": False})
    application_id = draft(**body)

    assert request(api, "POST", f"/applications/{application_id}/submit")[1]["lane"] == "fast"


def test_submitting_again_requeues_a_submitted_application(api, resources):
    application_id = draft()
    request(api, "POST", f"/applications/{application_id}/submit")

    status, body = request(api, "POST", f"/applications/{application_id}/submit")

    assert (status, body["status"]) == (202, "SUBMITTED")
    queued = messages(resources, "IntakeQueue") + messages(resources, "FastIntakeQueue")
    assert [m["application_id"] for m in queued] == [application_id, application_id]
    timeline = application_repository().timeline(application_id)
    assert [e.to_status for e in timeline if e.to_status] == ["DRAFT", "SUBMITTED"]


def test_someone_elses_application_is_not_found(api):
    application_id = draft(owner="user-2")

    status, body = request(api, "POST", f"/applications/{application_id}/submit", user="user-1")

    assert (status, body["error"]["code"]) == (404, "application_not_found")


def test_a_malformed_id_is_refused(api):
    status, body = request(api, "POST", "/applications/not-an-id/submit")

    assert status == 422
    assert body["error"]["code"] == "validation_failed"


def test_submit_needs_a_caller(api):
    application_id = draft()
    from tests.conftest import FakeLambdaContext
    from tests.support.apigw import http_event

    event = http_event("POST", f"/applications/{application_id}/submit", user=None)
    assert api.handler(event, FakeLambdaContext())["statusCode"] == 401
