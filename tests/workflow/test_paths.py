"""Every path of the decision workflow, walked on the real ASL (issue 4, item 10).

Applicants are found, not faked: :func:`find_applicant` picks synthetic people whom the shipped
model and the default policy place in the tier a test needs; the workflow then decides for real.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import boto3
import pytest

from loanflow.validation import Blocklist
from loanflow.workflow import table
from tests.support.decisioning import find_applicant
from tests.support.identities import application_body, make_id_number
from tests.support.stepfunctions import visited_states, wait_for
from tests.workflow.conftest import REVIEWER

WANTED = {
    "A": lambda v: (v.outcome, v.tier) == ("approved", "A"),
    "B": lambda v: (v.outcome, v.tier) == ("approved", "B"),
    "C": lambda v: v.outcome == "review" and v.reasons[0].code == "BORDERLINE_RISK",
    "D": lambda v: v.outcome == "declined" and v.reasons[0].code == "HIGH_RISK_SCORE",
}
_found: dict[str, dict] = {}


def applicant(tier: str) -> dict:
    """A synthetic applicant the model and policy put in ``tier`` (searched once per session)."""
    if tier not in _found:
        _found[tier] = find_applicant(WANTED[tier])
    return _found[tier]


def start(cloud, body):
    application_id = cloud.create(body)
    assert cloud.submit(application_id)[0] == 202
    assert cloud.drain_intake() == 1
    return application_id


def wait_for_review(cloud, application_id, timeout_s=20.0):
    """Until the application sits on the ops queue (the execution waits on its task token)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, body = cloud.call("GET", "/reviews", user=REVIEWER, groups=("ops",))
        assert status == 200
        if any(item["application_id"] == application_id for item in body["items"]):
            return body["items"]
        time.sleep(0.02)
    raise TimeoutError(f"{application_id} never reached the review queue")


def test_tier_a_is_approved_with_an_offer(cloud):
    # given a low-risk applicant
    body = applicant("A")

    # when
    app, execution = cloud.run(body)

    # then the offer is made and the contract waits for the applicant's signature
    assert execution["status"] == "RUNNING", execution
    assert app.status == "AWAITING_SIGNATURE"
    assert (app.decision.outcome, app.decision.tier) == ("approved", "A")
    assert app.offer.apr <= Decimal("0.24")
    assert app.offer.amount <= app.offer.credit_line
    assert sum(i.payment for i in app.offer.schedule) == app.offer.amount + app.offer.total_interest
    assert visited_states(execution["executionArn"])[-3:] == [
        "MakeOffer",
        "PrepareContract",
        "AwaitSignature",
    ]


def test_tier_b_is_approved_at_a_higher_price(cloud):
    body = applicant("B")

    app, execution = cloud.run(body)

    assert execution["status"] == "RUNNING", execution
    assert (app.status, app.decision.tier) == ("AWAITING_SIGNATURE", "B")
    assert Decimal("0.108") <= app.offer.apr <= Decimal("0.24")


def test_tier_c_goes_to_review_and_an_approval_resumes_to_an_offer(cloud):
    # given a borderline applicant waiting for a person
    application_id = start(cloud, applicant("C"))
    wait_for_review(cloud, application_id)
    assert cloud.application(application_id).status == "IN_REVIEW"

    # when ops approve
    status, answer = cloud.call(
        "POST",
        f"/reviews/{application_id}",
        body={"decision": "approve", "note": "income verified by phone"},
        user=REVIEWER,
        groups=("ops",),
    )

    # then the execution resumes to an offer, and the queue is empty again
    assert (status, answer["decision"]) == (202, "approve")
    execution = cloud.wait_for_signature(application_id)
    assert execution["status"] == "RUNNING", execution
    app = cloud.application(application_id)
    assert app.status == "AWAITING_SIGNATURE"
    assert app.decision.decided_by == f"reviewer:{REVIEWER}"
    assert app.offer is not None
    assert "ManualReview" in visited_states(execution["executionArn"])
    assert cloud.call("GET", "/reviews", user=REVIEWER, groups=("ops",))[1]["items"] == []


def test_tier_c_declined_by_the_reviewer_ends_declined_with_the_reason(cloud):
    application_id = start(cloud, applicant("C"))
    wait_for_review(cloud, application_id)

    status, _ = cloud.call(
        "POST",
        f"/reviews/{application_id}",
        body={"decision": "decline", "note": "income could not be verified"},
        user=REVIEWER,
        groups=("ops",),
    )

    assert status == 202
    execution = wait_for(cloud.execution_arn(application_id))
    assert execution["status"] == "SUCCEEDED"
    app = cloud.application(application_id)
    assert app.status == "DECLINED"
    assert [r.code for r in app.decision.reasons] == ["REVIEW_DECLINED"]
    assert app.offer is None
    timeline = [e for e in _timeline(application_id) if e.to_status == "DECLINED"]
    assert timeline[0].reason == "income could not be verified"


def test_tier_d_is_declined_with_reasons_in_plain_words(cloud):
    body = applicant("D")

    app, execution = cloud.run(body)

    assert execution["status"] == "SUCCEEDED"
    assert (app.status, app.decision.tier) == ("DECLINED", "D")
    codes = [r.code for r in app.decision.reasons]
    assert codes[0] == "HIGH_RISK_SCORE"
    assert len(codes) >= 2, "the model's adverse reasons explain the decline"
    assert all(r.text and r.text[-1] in ".)" for r in app.decision.reasons)
    assert app.decision.score is not None
    assert app.offer is None


def test_knock_out_declines_before_the_bureau_is_asked(cloud):
    # given an applicant who would be 61 when a 36-month loan ends
    today = date.today()
    birth = date(today.year - 58, 1, 1)
    body = application_body(id_number=make_id_number(birth), term_months=36)
    reports_before = cloud.bureau.app.stats.calls

    app, execution = cloud.run(body)

    assert execution["status"] == "SUCCEEDED"
    assert app.status == "DECLINED"
    assert [r.code for r in app.decision.reasons] == ["AGE_OUT_OF_RANGE"]
    assert "60" in app.decision.reasons[0].text
    assert visited_states(execution["executionArn"]) == [
        "ValidateApplicant",
        "KnockedOut",
        "Declined",
    ]
    assert cloud.bureau.app.stats.calls == reports_before


def test_knock_out_of_a_blocked_device(cloud):
    body = application_body()
    Blocklist(table()).add(
        "DEVICE", body["device"]["device_id"], reason_text="fraud ring", actor="ops-1"
    )

    app, _ = cloud.run(body)

    assert app.status == "DECLINED"
    assert [r.code for r in app.decision.reasons] == ["BLOCKED_DEVICE"]


def test_bureau_outage_sends_the_application_to_review_not_to_a_verdict(cloud):
    # given a bureau that answers 503 to everything
    cloud.bureau.app.failure_rate = 1.0
    application_id = start(cloud, applicant("A"))

    # then the application waits for a person, unscored, at high priority
    items = wait_for_review(cloud, application_id)
    app = cloud.application(application_id)
    assert app.status == "IN_REVIEW"
    assert [r.code for r in app.decision.reasons] == ["BUREAU_UNAVAILABLE"]
    assert items[0]["priority"] >= 400
    states = visited_states(cloud.execution_arn(application_id))
    assert "BureauOutage" in states
    assert "Score" not in states


def test_a_task_that_raises_ends_failed_with_the_reason(cloud):
    # given a Decide function that crashes
    cloud.lambdas.fail("decide", RuntimeError("policy engine crashed"))

    app, execution = cloud.run(applicant("A"))

    assert execution["status"] == "FAILED"
    assert app.status == "FAILED"
    assert "RuntimeError" in app.failure_reason
    assert "policy engine crashed" in app.failure_reason
    assert visited_states(execution["executionArn"])[-2:] == ["RecordFailure", "Failed"]


def test_duplicate_submit_starts_one_execution(cloud):
    # given an application submitted twice, its intake message delivered twice
    application_id = cloud.create(application_body())
    assert cloud.submit(application_id)[0] == 202
    assert cloud.submit(application_id)[0] == 202
    assert cloud.drain_intake() == 2

    # then exactly one execution, named by the application
    cloud.wait_for_task(application_id, "decide")
    machine = cloud.resources.arns["LoanApplicationStateMachine"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)
    assert [e["name"] for e in executions["executions"]] == [application_id]


def test_a_review_nobody_takes_expires(cloud):
    # given a policy whose reviews expire after two seconds
    cloud.set_policy(review_timeout_seconds=2)
    application_id = start(cloud, applicant("C"))

    execution = wait_for(cloud.execution_arn(application_id))

    assert execution["status"] == "SUCCEEDED"
    assert cloud.application(application_id).status == "EXPIRED"
    assert visited_states(execution["executionArn"])[-2:] == [
        "RecordReviewExpired",
        "ReviewExpired",
    ]
    assert cloud.call("GET", "/reviews", user=REVIEWER, groups=("ops",))[1]["items"] == []


@pytest.mark.parametrize("groups", [(), ("applicants",)])
def test_reviews_need_the_ops_group(cloud, groups):
    assert cloud.call("GET", "/reviews", groups=groups)[0] == 403
    status, body = cloud.call(
        "POST",
        "/reviews/app_01JDZ8Q7Y0000000000000000A",
        body={"decision": "approve", "note": "x"},
        groups=groups,
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")


def _timeline(application_id):
    from loanflow.repository import application_repository

    return application_repository().timeline(application_id)


def test_the_same_identity_reapplying_is_counted_and_reuses_the_cached_report(cloud):
    # given one person applying twice on the same day
    first = application_body()
    cloud.run(first)
    second_id = start(cloud, {**first, "device": {**first["device"]}})

    cloud.wait_for_task(second_id, "decide")

    bureau = [e for d, e in cloud.lambdas.calls if d == "decide"][-1]
    assert bureau["bureau"]["cached"] is True
    assert bureau["behaviour"]["features"]["velocity_id_24h"] == 1


def test_a_policy_change_takes_effect_without_a_deploy(cloud):
    # given risk tightens tier A in the parameter store (no deploy)
    cloud.set_policy(tier_a_max_pd=0.0001, risk_tolerance="0.5")

    app, _ = cloud.run(applicant("A"))

    # then yesterday's tier A applicant is priced and limited as tier B, with half the line
    assert (app.decision.outcome, app.decision.tier) == ("approved", "B")
    assert app.offer.apr >= Decimal("0.108")
    assert app.offer.credit_line <= Decimal("40000")
