"""ExecutionEndedFunction: an execution ended FAILED, TIMED_OUT or ABORTED (EventBridge) → its
application FAILED with the reason, unless it is final already or the payout finishes it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from loanflow.models import ApplicationRequest, ApplicationStatus, PayoutStatus
from loanflow.payouts import QUEUE_PAYOUT, PayoutStore
from loanflow.repository import application_repository
from loanflow.reviews import ReviewQueue
from loanflow.settings import get_settings
from loanflow.workflow import REASON_LIMIT, WorkflowState, finish_task, table
from tests.conftest import FakeLambdaContext
from tests.support.handlers import load_handler_module
from tests.support.identities import application_body
from tests.support.loans import signed_application

S = ApplicationStatus
SAMPLE = Path(__file__).resolve().parents[2] / "events" / "execution_ended.json"
PATHS = {
    S.SUBMITTED: [S.SUBMITTED],
    S.IN_PROGRESS: [S.SUBMITTED, S.IN_PROGRESS],
    S.IN_REVIEW: [S.SUBMITTED, S.IN_PROGRESS, S.IN_REVIEW],
    S.APPROVED: [S.SUBMITTED, S.IN_PROGRESS, S.APPROVED],
    S.AWAITING_SIGNATURE: [S.SUBMITTED, S.IN_PROGRESS, S.APPROVED, S.AWAITING_SIGNATURE],
    S.SIGNED: [S.SUBMITTED, S.IN_PROGRESS, S.APPROVED, S.AWAITING_SIGNATURE, S.SIGNED],
    S.DISBURSING: [
        S.SUBMITTED,
        S.IN_PROGRESS,
        S.APPROVED,
        S.AWAITING_SIGNATURE,
        S.SIGNED,
        S.DISBURSING,
    ],
    S.DECLINED: [S.SUBMITTED, S.IN_PROGRESS, S.DECLINED],
    S.FAILED: [S.SUBMITTED, S.IN_PROGRESS, S.FAILED],
    S.FUNDED: [
        S.SUBMITTED,
        S.IN_PROGRESS,
        S.APPROVED,
        S.AWAITING_SIGNATURE,
        S.SIGNED,
        S.DISBURSING,
        S.FUNDED,
    ],
    S.EXPIRED: [S.SUBMITTED, S.IN_PROGRESS, S.APPROVED, S.AWAITING_SIGNATURE, S.EXPIRED],
}


@pytest.fixture
def ended(resources: Any) -> Any:
    return load_handler_module("execution_ended")


def application_in(status: S) -> str:
    repo = application_repository()
    request = ApplicationRequest.model_validate(application_body())
    app = repo.create("user-1", request, actor="user:user-1")
    for step in PATHS[status]:
        app = repo.transition(app.id, step, actor="test", reason="given")
    return app.id


def event_for(application_id: str, status: str = "FAILED", **detail: Any) -> dict[str, Any]:
    """The sample event (events/execution_ended.json) about this application's execution."""
    event = copy.deepcopy(json.loads(SAMPLE.read_text()))
    machine = event["detail"]["stateMachineArn"]
    execution = machine.replace(":stateMachine:", ":execution:") + f":{application_id}"
    event["resources"] = [execution]
    event["detail"].update(
        executionArn=execution,
        name=application_id,
        status=status,
        input=json.dumps({"application_id": application_id, "lane": "standard"}),
        **detail,
    )
    return event


def status_of(application_id: str) -> S:
    return application_repository().get(application_id).status


def test_the_sample_event_is_accepted(ended):
    application_id = json.loads(SAMPLE.read_text())["detail"]["name"]

    answer = ended.handler(json.loads(SAMPLE.read_text()), FakeLambdaContext())

    assert answer == {"application_id": application_id, "status": None, "changed": False}


def test_an_application_left_in_progress_fails_with_the_execution_error(ended):
    # given an execution that ended in States.Runtime, which no Catch sees
    application_id = application_in(S.IN_PROGRESS)
    cause = "The JSONPath '$.score.pd' could not be found in the input."

    answer = ended.handler(
        event_for(application_id, error="States.Runtime", cause=cause), FakeLambdaContext()
    )

    app = application_repository().get(application_id)
    assert answer == {"application_id": application_id, "status": "FAILED", "changed": True}
    assert app.status == S.FAILED
    assert app.failure_reason == f"execution FAILED: States.Runtime: {cause}"
    last = application_repository().timeline(application_id)[-1]
    assert (last.from_status, last.to_status, last.actor) == (S.IN_PROGRESS, S.FAILED, "workflow")
    assert last.details["execution_status"] == "FAILED"
    assert last.details["execution_arn"].endswith(f":{application_id}")


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED"])
def test_a_timed_out_or_stopped_execution_fails_its_application(ended, status):
    application_id = application_in(S.IN_PROGRESS)

    ended.handler(event_for(application_id, status, error=None, cause=None), FakeLambdaContext())

    app = application_repository().get(application_id)
    assert app.status == S.FAILED
    assert app.failure_reason == f"execution {status}"


def test_the_reason_is_truncated(ended):
    application_id = application_in(S.IN_PROGRESS)

    ended.handler(
        event_for(application_id, error="States.DataLimitExceeded", cause="x" * 5000),
        FakeLambdaContext(),
    )

    reason = application_repository().get(application_id).failure_reason
    assert reason.startswith("execution FAILED: States.DataLimitExceeded: xxx")
    assert len(reason) == REASON_LIMIT


@pytest.mark.parametrize(
    "status", [S.SUBMITTED, S.IN_PROGRESS, S.APPROVED, S.AWAITING_SIGNATURE, S.SIGNED]
)
def test_statuses_only_the_execution_moves_on_end_failed(ended, status):
    application_id = application_in(status)

    answer = ended.handler(event_for(application_id), FakeLambdaContext())

    assert answer["changed"] is True
    assert status_of(application_id) == S.FAILED


def test_a_review_whose_execution_ended_fails_and_leaves_the_queue(ended):
    # given an application waiting for a reviewer, the token on the queue dead with its execution
    application_id = application_in(S.IN_REVIEW)
    queue = ReviewQueue(table())
    queue.put(
        application_repository().get(application_id),
        task_token="dead-token",
        priority=400,
        reasons=[],
        timeout_seconds=3600,
    )

    ended.handler(event_for(application_id, "ABORTED"), FakeLambdaContext())

    assert status_of(application_id) == S.FAILED
    assert all(item.application_id != application_id for item in queue.list(limit=50))


@pytest.mark.parametrize("status", [S.DECLINED, S.FAILED, S.FUNDED, S.EXPIRED])
def test_a_final_application_is_left_unchanged(ended, status):
    application_id = application_in(status)
    before = application_repository().get(application_id)

    answer = ended.handler(event_for(application_id), FakeLambdaContext())

    after = application_repository().get(application_id)
    assert answer == {"application_id": application_id, "status": status.value, "changed": False}
    assert (after.status, after.version, after.failure_reason) == (
        before.status,
        before.version,
        before.failure_reason,
    )


def disbursing_with_loan(
    channel: str, payout_status: PayoutStatus | None = None
) -> tuple[str, Any]:
    """A DISBURSING application with its loan opened on ``channel`` (then set to ``payout_status``)."""
    repo = application_repository()
    app = signed_application(repo, tier="A" if channel == "instant" else "B", seed=4242)
    app = repo.transition(app.id, S.DISBURSING, actor="payouts")
    store = PayoutStore(get_settings().table_name)
    record = store.open_loan(app, channel)  # type: ignore[arg-type]
    if payout_status is not None:
        store.table.update_item(
            Key={"PK": f"LOAN#{record.id}", "SK": "LOAN"},
            UpdateExpression="SET payout_status = :s",
            ExpressionAttributeValues={":s": payout_status.value},
        )
    return app.id, store


def test_a_disbursing_application_is_left_to_the_payout(ended):
    # given a signed loan handed to the payout when its execution ended
    application_id, store = disbursing_with_loan("batch")
    version = application_repository().get(application_id).version

    answer = ended.handler(event_for(application_id, "TIMED_OUT"), FakeLambdaContext())

    assert answer["changed"] is False
    app = application_repository().get(application_id)
    assert (app.status, app.version) == (S.DISBURSING, version)
    assert [r.loan.application_id for r in store.queued(QUEUE_PAYOUT, limit=10)] == [application_id]


def test_an_interrupted_instant_payout_is_handed_to_the_batch_in_doubt(ended):
    # given an instant payout that was sending (the bank may have paid) when the execution ended
    application_id, store = disbursing_with_loan("instant", PayoutStatus.SENDING)

    ended.handler(event_for(application_id, "FAILED"), FakeLambdaContext())

    # then the application waits for the payouts, and the next batch run asks the bank first
    assert application_repository().get(application_id).status == S.DISBURSING
    (queued,) = store.queued(QUEUE_PAYOUT, limit=10)
    assert (queued.loan.application_id, queued.in_doubt) == (application_id, True)
    assert queued.loan.payout_status == PayoutStatus.QUEUED


def test_a_disbursing_application_without_a_loan_fails(ended):
    # given an execution that ended after DISBURSING but before the loan was opened: nothing paid
    application_id = application_in(S.DISBURSING)

    answer = ended.handler(event_for(application_id, "FAILED"), FakeLambdaContext())

    assert answer["changed"] is True
    assert application_repository().get(application_id).status == S.FAILED


def test_record_failure_hands_a_disbursing_loan_to_the_payouts(resources):
    # given Disburse failing for good after the loan was opened and the bank called
    application_id, store = disbursing_with_loan("instant", PayoutStatus.SENDING)
    state = WorkflowState.model_validate(
        {"application_id": application_id, "error": {"Error": "Lambda.Unknown", "Cause": "x"}}
    )

    answer = finish_task(state, "FAILED")

    assert answer["status"] == "DISBURSING"
    assert application_repository().get(application_id).status == S.DISBURSING
    (queued,) = store.queued(QUEUE_PAYOUT, limit=10)
    assert queued.in_doubt is True


def test_record_failure_fails_a_disbursing_application_without_a_loan(resources):
    application_id = application_in(S.DISBURSING)
    state = WorkflowState.model_validate(
        {"application_id": application_id, "error": {"Error": "Lambda.Unknown", "Cause": "x"}}
    )

    assert finish_task(state, "FAILED")["status"] == "FAILED"


def test_a_repeated_event_changes_nothing_more(ended):
    # given the event delivered twice (EventBridge delivers at least once)
    application_id = application_in(S.IN_PROGRESS)
    event = event_for(application_id, error="States.Runtime", cause="boom")

    first = ended.handler(event, FakeLambdaContext())
    version = application_repository().get(application_id).version
    again = ended.handler(event, FakeLambdaContext())

    assert first["changed"] is True
    assert again == {"application_id": application_id, "status": "FAILED", "changed": False}
    assert application_repository().get(application_id).version == version
    failures = [
        e for e in application_repository().timeline(application_id) if e.to_status == "FAILED"
    ]
    assert len(failures) == 1


def test_after_record_failure_the_event_keeps_its_reason(ended):
    # given RecordFailure already failed the application with the task's error
    repo = application_repository()
    application_id = application_in(S.IN_PROGRESS)
    repo.transition(
        application_id,
        S.FAILED,
        actor="workflow",
        reason="RuntimeError: policy engine crashed",
        set_fields={"failure_reason": "RuntimeError: policy engine crashed"},
    )

    ended.handler(
        event_for(application_id, error="ApplicationFailed", cause="A workflow step failed"),
        FakeLambdaContext(),
    )

    assert repo.get(application_id).failure_reason == "RuntimeError: policy engine crashed"


def test_an_event_that_is_not_a_status_change_is_refused(ended):
    event = event_for(application_in(S.IN_PROGRESS), "SUCCEEDED")

    with pytest.raises(ValueError, match="status"):
        ended.handler(event, FakeLambdaContext())
