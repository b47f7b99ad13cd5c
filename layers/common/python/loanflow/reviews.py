"""Manual review: the ops queue of applications waiting for a person, and their verdicts.

An application the policy sends to review gets a review item beside its record
(``PK = APP#<id>, SK = REVIEW``) holding the Step Functions task token; it sits in the sparse GSI2
work queue ``GSI2PK = QUEUE#REVIEW`` with ``GSI2SK = <999 − priority, 3 digits>#<enqueued at>#<id>``,
so a Query in index order is highest priority first, oldest first within a priority. A verdict
resumes the execution with ``SendTaskSuccess`` and removes the item; the workflow's ApplyReview
state then moves the status, with the reviewer and the note in the audit trail.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from loanflow import aws
from loanflow.errors import Conflict, NotFound
from loanflow.models import Application, ApplicationStatus, Decision, Reason
from loanflow.policy import reason
from loanflow.repository import ApplicationRepository

QUEUE = "QUEUE#REVIEW"


class ReviewNotFound(NotFound):
    code = "review_not_found"


class ReviewClosed(Conflict):
    code = "review_closed"


class ReviewItem(BaseModel):
    """One waiting application as a reviewer sees it (no PII beyond what the decision needs)."""

    application_id: str
    priority: int
    enqueued_at: datetime
    due_at: datetime
    lane: str
    amount: str
    term_months: int
    monthly_income: str
    employment: str
    reasons: list[Reason]


class ReviewVerdict(BaseModel):
    decision: Literal["approve", "decline"]
    note: str = Field(min_length=1, max_length=1000, description="Why: kept in the audit trail")


class ReviewQueue:
    def __init__(self, table: Any) -> None:
        self.table = table

    @staticmethod
    def key(application_id: str) -> dict[str, str]:
        return {"PK": f"APP#{application_id}", "SK": "REVIEW"}

    def put(
        self,
        app: Application,
        *,
        task_token: str,
        priority: int,
        reasons: list[dict[str, Any]],
        timeout_seconds: int,
        now: datetime | None = None,
    ) -> None:
        now = now or datetime.now(UTC)
        due = now + timedelta(seconds=timeout_seconds)
        priority = max(0, min(999, priority))
        self.table.put_item(
            Item={
                **self.key(app.id),
                "GSI2PK": QUEUE,
                "GSI2SK": f"{999 - priority:03d}#{now.isoformat()}#{app.id}",
                "task_token": task_token,
                "application_id": app.id,
                "priority": priority,
                "enqueued_at": now.isoformat(),
                "due_at": due.isoformat(),
                "lane": app.lane,
                "amount": str(app.request.amount),
                "term_months": app.request.term_months,
                "monthly_income": str(app.request.monthly_income),
                "employment": app.request.employment,
                "reasons": reasons,
                # Garbage collection only: the workflow's own timeout expires the review first.
                "expires_at": int((due + timedelta(days=1)).timestamp()),
            }
        )

    def list(self, limit: int = 50) -> list[ReviewItem]:
        answer = self.table.query(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :q",
            ExpressionAttributeValues={":q": QUEUE},
            ScanIndexForward=True,
            Limit=limit,
        )
        return [ReviewItem.model_validate(_plain(item)) for item in answer.get("Items", [])]

    def get(self, application_id: str) -> dict[str, Any]:
        item = self.table.get_item(Key=self.key(application_id), ConsistentRead=True).get("Item")
        if item is None:
            raise ReviewNotFound(f"application {application_id} is not waiting for review")
        return dict(item)

    def remove(self, application_id: str) -> None:
        self.table.delete_item(Key=self.key(application_id))


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from loanflow.dynamo import from_item

    data: dict[str, Any] = from_item(item)
    return data


def submit_verdict(
    queue: ReviewQueue,
    repo: ApplicationRepository,
    application_id: str,
    verdict: ReviewVerdict,
    *,
    reviewer: str,
) -> Application:
    """Hand a reviewer's verdict to the waiting execution, which applies it (ApplyReview).

    Exactly one verdict per review: the task token accepts one ``SendTaskSuccess``; a second
    reviewer, or a review that already expired, gets a conflict and nothing changes.
    """
    item = queue.get(application_id)
    app = repo.get(application_id)
    if app.status != ApplicationStatus.IN_REVIEW:
        raise Conflict(f"application {application_id} is {app.status.value}, not IN_REVIEW")
    sfn = aws.client("stepfunctions")
    try:
        sfn.send_task_success(
            taskToken=item["task_token"],
            output=json.dumps({**verdict.model_dump(), "reviewer": reviewer}),
        )
    except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken) as exc:
        raise ReviewClosed(f"the review of {application_id} is already closed") from exc
    queue.remove(application_id)
    return app


def review_decision(app: Application, verdict: ReviewVerdict, reviewer: str) -> Decision:
    """The application's decision after a person's verdict (the tier and score stay)."""
    approved = verdict.decision == "approve"
    previous = app.decision
    return Decision(
        outcome="approved" if approved else "declined",
        tier=previous.tier if previous else "C",
        score=previous.score if previous else None,
        pd=previous.pd if previous else None,
        reasons=[] if approved else [reason("REVIEW_DECLINED")],
        decided_by=f"reviewer:{reviewer}",
    )
