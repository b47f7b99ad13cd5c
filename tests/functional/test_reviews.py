"""GET /reviews and POST /reviews/{id}: the ops queue, highest priority first; ops group only."""

from __future__ import annotations

from typing import Any

import pytest

from loanflow.models import ApplicationRequest, ApplicationStatus
from loanflow.repository import application_repository
from loanflow.reviews import ReviewQueue
from loanflow.workflow import table
from tests.support.identities import application_body
from tests.support.routes import request, workflow_api

OPS = {"user": "ops-1", "groups": ("ops",)}


@pytest.fixture
def api(resources: Any) -> Any:
    return workflow_api()


def waiting_application(priority: int, amount: str = "5000.00") -> str:
    """An application in IN_REVIEW with its review item, as the workflow leaves it."""
    repo = application_repository()
    app = repo.create(
        "user-1",
        ApplicationRequest.model_validate(application_body(amount=amount)),
        actor="user:user-1",
    )
    for status in ("SUBMITTED", "IN_PROGRESS", "IN_REVIEW"):
        app = repo.transition(app.id, ApplicationStatus(status), actor="test")
    ReviewQueue(table()).put(
        app, task_token=f"token-{app.id}", priority=priority, reasons=[], timeout_seconds=3600
    )
    return app.id


def test_the_queue_lists_highest_priority_first(api):
    low = waiting_application(priority=10)
    high = waiting_application(priority=700)
    middle = waiting_application(priority=300)

    status, body = request(api, "GET", "/reviews", **OPS)

    assert status == 200
    assert [i["application_id"] for i in body["items"]] == [high, middle, low]
    assert "id_number" not in str(body)


@pytest.mark.parametrize("groups", [(), ("applicants",)])
def test_the_queue_needs_the_ops_group(api, groups):
    assert request(api, "GET", "/reviews", groups=groups)[0] == 403


def test_a_verdict_on_an_application_not_waiting_is_not_found(api):
    status, body = request(
        api,
        "POST",
        "/reviews/app_01JDZ8Q7Y0000000000000000A",
        body={"decision": "approve", "note": "ok"},
        **OPS,
    )

    assert (status, body["error"]["code"]) == (404, "review_not_found")


def test_a_verdict_needs_a_decision_and_a_note(api):
    application_id = waiting_application(priority=1)

    status, body = request(
        api, "POST", f"/reviews/{application_id}", body={"decision": "maybe"}, **OPS
    )

    assert status == 422
    assert body["error"]["code"] == "validation_failed"
    assert application_repository().get(application_id).status == "IN_REVIEW"


def test_a_verdict_on_a_closed_review_is_a_conflict_and_changes_nothing(api, monkeypatch):
    # given an execution that no longer waits (the token expired or was already used)
    from loanflow import aws

    application_id = waiting_application(priority=1)
    sfn = aws.client("stepfunctions")

    def closed(**_: Any) -> None:
        raise sfn.exceptions.TaskTimedOut(
            {"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskSuccess"
        )

    monkeypatch.setattr(sfn, "send_task_success", closed)

    status, body = request(
        api, "POST", f"/reviews/{application_id}", body={"decision": "approve", "note": "ok"}, **OPS
    )

    assert (status, body["error"]["code"]) == (409, "review_closed")
    assert application_repository().get(application_id).status == "IN_REVIEW"
