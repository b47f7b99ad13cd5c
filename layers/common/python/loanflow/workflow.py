"""The decision workflow's tasks: what each state of ``loan_application.asl.json`` does.

Each function takes the execution's state (``{"application_id", "lane", <parts>...}``), reads what it
needs from it and from the table, changes the application's status only through
:meth:`ApplicationRepository.transition`, and returns its own part of the state (stored by the state
machine at ``$.<part>``). Handlers in ``functions/*`` are thin doorways onto these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import BaseModel, ConfigDict, Field

from loanflow import aws, pii
from loanflow.behaviour import BehaviourStore, assess
from loanflow.bureau import bureau_client, credit_check, report_cache
from loanflow.errors import ApplicationNotFound, ConcurrentModification, InvalidTransition
from loanflow.features import ScoringFeatures
from loanflow.models import (
    Application,
    ApplicationRequest,
    ApplicationStatus,
    Decision,
    PayoutStatus,
    Reason,
)
from loanflow.observability import logger
from loanflow.policy import (
    PolicyConfig,
    PolicyDecision,
    PolicyInput,
    decide,
    load_policy,
    reason,
)
from loanflow.pricing import credit_line, make_offer, price_apr
from loanflow.repository import ApplicationRepository, application_repository
from loanflow.reviews import ReviewQueue, ReviewVerdict, review_decision
from loanflow.settings import get_settings
from loanflow.status import TERMINAL, can_transition
from loanflow.validation import Blocklist, validate_applicant

ACTOR = "workflow"
S = ApplicationStatus


class WorkflowState(BaseModel):
    """The parts of the execution state a task may read (others pass through untouched)."""

    model_config = ConfigDict(extra="allow")

    application_id: str = Field(pattern=r"^app_[0-9A-Z]{26}$")
    lane: Literal["fast", "standard"] = "standard"
    validation: dict[str, Any] = {}
    bureau: dict[str, Any] = {}
    behaviour: dict[str, Any] = {}
    score: dict[str, Any] = {}
    decision: dict[str, Any] = {}
    review: dict[str, Any] = {}
    crosscheck: dict[str, Any] = {}
    error: dict[str, Any] = {}


def table() -> Any:
    """The single table (a cheap handle on the cached DynamoDB resource)."""
    return aws.resource("dynamodb").Table(get_settings().table_name)


def repository() -> ApplicationRepository:
    return application_repository()


def policy() -> PolicyConfig:
    return load_policy()


def submitted_at(app: Application) -> datetime:
    """When the applicant pressed submit (recorded by the submit route), else the last change."""
    value = app.extra.get("submitted_at")
    return datetime.fromisoformat(value) if value else app.updated_at


def record_decision_latency(app: Application) -> None:
    """Seconds from submit to a final approve/decline (the DecisionLatency alarm and dashboard).

    Its own EMF document with only the service dimension, whatever dimensions the caller adds.
    """
    seconds = (datetime.now(UTC) - submitted_at(app)).total_seconds()
    with single_metric(
        name="DecisionLatency",
        unit=MetricUnit.Seconds,
        value=seconds,
        namespace="Loanflow",
        default_dimensions={"service": "loanflow"},
    ):
        pass


# --- customers ---------------------------------------------------------------------------------


def customer_key(id_hash: str) -> dict[str, str]:
    return {"PK": f"CUSTOMER#{id_hash}", "SK": "PROFILE"}


def is_returning_customer(id_hash: str) -> bool:
    """Has repaid a loan with us and is not in arrears (``CUSTOMER#<id hash>`` / ``PROFILE``)."""
    item = table().get_item(Key=customer_key(id_hash)).get("Item") or {}
    return int(item.get("loans_repaid", 0)) > 0 and not item.get("in_arrears", False)


def is_fast_lane(request: ApplicationRequest, returning: bool, config: PolicyConfig) -> bool:
    """Returning customers in good standing, or a top pre-screen: modest amount, good income."""
    if returning:
        return True
    return (
        request.amount <= config.fast_lane_max_amount
        and request.monthly_income >= config.fast_lane_min_income
        and request.employment in config.fast_lane_employment
    )


# --- ValidateApplicant -------------------------------------------------------------------------


def validate_task(state: WorkflowState) -> dict[str, Any]:
    repo = repository()
    app = repo.get(state.application_id)
    if app.status == S.DECLINED and app.decision is not None:
        # A retry of a run that already knocked the application out: the same answer again.
        reasons = [r.model_dump() for r in app.decision.reasons]
        return {"passed": False, "reasons": reasons, "features": {}}
    app = repo.transition(app.id, S.IN_PROGRESS, actor=ACTOR, reason="workflow")
    config = policy()
    id_hash = pii.keyed_hash(app.request.id_number, purpose="id")
    result = validate_applicant(
        app,
        config,
        Blocklist(table()),
        submitted_at=submitted_at(app),
        returning_customer=is_returning_customer(id_hash),
    )
    if not result.passed:
        decision = Decision(outcome="declined", tier="D", reasons=result.reasons)
        repo.transition(
            app.id,
            S.DECLINED,
            actor=ACTOR,
            reason="knock-out: " + ", ".join(r.code for r in result.reasons),
            set_fields={"decision": decision},
        )
    return result.as_state()


# --- CreditBureau ------------------------------------------------------------------------------


def bureau_task(state: WorkflowState) -> dict[str, Any]:
    """The bureau part: the report's model features; raises BureauUnavailable on an outage."""
    app = repository().get(state.application_id)
    request = app.request
    id_hash = pii.keyed_hash(request.id_number, purpose="id")
    check = credit_check(
        bureau_client(),
        report_cache(get_settings().table_name),
        id_hash=id_hash,
        id_number=request.id_number,
        name=request.name,
        reference=app.id,
    )
    report = check.report
    income = request.monthly_income
    dti = float(report.monthly_debt_payments / income) if income > 0 else 0.0
    return {
        "available": True,
        "cached": check.cached,
        "report_id": report.report_id,
        "has_file": report.has_file,
        "monthly_debt_payments": str(report.monthly_debt_payments),
        "features": {
            "debt_to_income": round(dti, 4),
            "bureau_score": report.score,
            "bureau_history_months": report.history_months,
            "bureau_open_accounts": report.open_accounts,
            "bureau_inquiries_6m": report.inquiries_6m,
            "bureau_delinquencies_24m": report.delinquencies_24m,
            "bureau_max_dpd_24m": report.max_dpd_24m,
            "bureau_utilization": report.utilization,
        },
    }


# --- Behaviour ---------------------------------------------------------------------------------


def behaviour_task(state: WorkflowState) -> dict[str, Any]:
    app = repository().get(state.application_id)
    request = app.request
    tokens = {
        "ID": pii.keyed_hash(request.id_number, purpose="id"),
        "PHONE": pii.keyed_hash(request.phone, purpose="phone"),
        "DEVICE": request.device.device_id,
        "IP": str(request.device.ip),
    }
    signals = assess(
        BehaviourStore(table()), app.id, tokens, str(request.device.ip), submitted_at(app)
    )
    return {"features": signals.features()}


# --- Decide ------------------------------------------------------------------------------------


def _reasons(items: list[dict[str, Any]]) -> list[Reason]:
    return [Reason(code=str(r["code"]), text=str(r["text"])) for r in items]


def _score_reasons(score: dict[str, Any]) -> list[Reason]:
    return [Reason(code=str(r["code"]), text=str(r["text"])) for r in score.get("reasons", [])]


def decide_task(state: WorkflowState) -> dict[str, Any]:
    """Apply the policy, price the line, record the decision and move the status."""
    config = policy()
    repo = repository()
    app = repo.get(state.application_id)
    bureau_available = bool(state.bureau.get("available", False))
    debt = Decimal(str(state.bureau.get("monthly_debt_payments", "0")))
    pd: float | None = None
    if bureau_available:
        features = ScoringFeatures(
            **state.validation["features"],
            **state.bureau["features"],
            **state.behaviour["features"],
        )
        pd = float(state.score["pd"])
        verdict = decide(
            PolicyInput(
                features=features,
                pd=pd,
                score_reasons=_score_reasons(state.score),
                has_bureau_file=bool(state.bureau.get("has_file")),
                monthly_debt_payments=debt,
                fast_lane=state.lane == "fast",
                document_declines=_reasons(state.crosscheck.get("declines", [])),
                document_reviews=_reasons(state.crosscheck.get("reviews", [])),
            ),
            config,
        )
    else:
        # No report, no score: a person decides (never approved blind, never declined for it).
        priority = 400 + (300 if state.lane == "fast" else 0)
        verdict = PolicyDecision("review", "C", [reason("BUREAU_UNAVAILABLE")], priority)

    line = apr = None
    if verdict.tier != "D":
        apr = price_apr(pd if pd is not None else config.tier_c_max_pd, verdict.tier, config)
        line = credit_line(
            verdict.tier, app.request.monthly_income, debt, apr, app.request.term_months, config
        )
        if line == 0:
            verdict = PolicyDecision("declined", "D", [reason("INSUFFICIENT_CAPACITY")])
            line = apr = None

    reasons = verdict.reasons
    decision = Decision(
        outcome=verdict.outcome,
        tier=verdict.tier,
        score=state.score.get("score"),
        pd=pd,
        reasons=reasons,
    )
    target = {"approved": S.APPROVED, "declined": S.DECLINED, "review": S.IN_REVIEW}[
        verdict.outcome
    ]
    repo.transition(
        app.id,
        target,
        actor=ACTOR,
        reason=f"tier {verdict.tier}"
        + (": " + ", ".join(r.code for r in reasons) if reasons else ""),
        set_fields={"decision": decision},
        details={
            "policy_version": config.version,
            "model_version": state.score.get("model_version"),
        },
    )
    if verdict.outcome != "review":
        record_decision_latency(app)
    return {
        **decision.model_dump(mode="json", include={"outcome", "tier", "score", "pd", "reasons"}),
        "credit_line": str(line) if line is not None else None,
        "apr": str(apr) if apr is not None else None,
        "review_priority": verdict.review_priority,
        "review_timeout_seconds": config.review_timeout_seconds,
        "policy_version": config.version,
    }


# --- ManualReview (the task token) -------------------------------------------------------------


def enqueue_review_task(state: WorkflowState, task_token: str) -> dict[str, Any]:
    """Put the application on the ops review queue with the token that resumes the execution."""
    app = repository().get(state.application_id)
    ReviewQueue(table()).put(
        app,
        task_token=task_token,
        priority=int(state.decision.get("review_priority", 0)),
        reasons=state.decision.get("reasons", []),
        timeout_seconds=int(state.decision.get("review_timeout_seconds", 86400)),
    )
    return {"queued": True}


def apply_review_task(state: WorkflowState) -> dict[str, Any]:
    """The reviewer's verdict (``$.review``) applied: IN_REVIEW → APPROVED or DECLINED."""
    verdict = ReviewVerdict.model_validate(state.review)
    reviewer = str(state.review.get("reviewer", "unknown"))
    repo = repository()
    app = repo.get(state.application_id)
    decision = review_decision(app, verdict, reviewer)
    repo.transition(
        app.id,
        S.APPROVED if decision.outcome == "approved" else S.DECLINED,
        actor=f"reviewer:{reviewer}",
        reason=verdict.note,
        set_fields={"decision": decision},
    )
    record_decision_latency(app)
    return {
        **state.decision,
        **decision.model_dump(mode="json", include={"outcome", "reasons", "decided_by"}),
    }


# --- MakeOffer ---------------------------------------------------------------------------------


def offer_task(state: WorkflowState) -> dict[str, Any]:
    repo = repository()
    app = repo.get(state.application_id)
    if app.status != S.APPROVED:
        raise InvalidTransition(app.status.value, "offer on an APPROVED application")
    offer = make_offer(
        requested_amount=app.request.amount,
        line=Decimal(state.decision["credit_line"]),
        apr=Decimal(state.decision["apr"]),
        term_months=app.request.term_months,
        start=datetime.now(UTC).date(),
    )
    repo.update(
        app.id,
        actor=ACTOR,
        action="offer_made",
        set_fields={"offer": offer},
        details={"amount": str(offer.amount), "apr": str(offer.apr)},
    )
    return {
        "amount": str(offer.amount),
        "credit_line": str(offer.credit_line),
        "apr": str(offer.apr),
        "term_months": offer.term_months,
        "installment": str(offer.installment),
        "tier": state.decision.get("tier"),
    }


# --- the end of a failed or expired execution --------------------------------------------------


def finish_task(state: WorkflowState, status: Literal["FAILED", "EXPIRED"]) -> dict[str, Any]:
    """Record why the execution ended without a decision (FAILED) or a reviewer (EXPIRED)."""
    repo = repository()
    error = state.error or {}
    cause = str(error.get("Cause") or "")[:500]
    why = f"{error.get('Error', 'unknown error')}: {cause}".rstrip(": ")
    if status == "EXPIRED":
        why = "no reviewer took the application in time"
        ReviewQueue(table()).remove(state.application_id)
    app = repo.get(state.application_id)
    if app.status == S.DISBURSING and (loan := _left_to_the_payouts(app.id)) is not None:
        return {"status": app.status.value, "reason": why, "payout_status": loan}
    try:
        repo.transition(
            app.id,
            S(status),
            actor=ACTOR,
            reason=why,
            set_fields={"failure_reason": why} if status == "FAILED" else None,
        )
    except InvalidTransition:
        # Already terminal (e.g. declined before a later step failed): keep that outcome.
        logger.warning("not moving a finished application", extra={"status": app.status.value})
    return {"status": repo.get(app.id).status.value, "reason": why}


def _left_to_the_payouts(application_id: str) -> str | None:
    """The payout status of a DISBURSING application's loan, handed to the payouts to finish
    (:func:`loanflow.payouts.hand_over`); None when it has no loan, or its payout failed."""
    from loanflow.payouts import PayoutStore, hand_over

    record = hand_over(PayoutStore(get_settings().table_name), application_id)
    if record is None or record.loan.payout_status == PayoutStatus.FAILED:
        return None
    logger.warning(
        "the workflow ended while disbursing; the payouts finish the loan",
        extra={"loan_id": record.id, "payout_status": record.loan.payout_status.value},
    )
    return record.loan.payout_status.value


# --- an execution that ended without RecordFailure ---------------------------------------------

OWNED_AFTER_THE_EXECUTION: frozenset[S] = frozenset({S.DISBURSING})
"""Statuses that another actor finishes after the execution has ended: the loan of a DISBURSING
application is the payout's (the scheduled batch pays it, an instant payout in doubt is asked about
again); moving it to FAILED could contradict a transfer the bank has already executed."""

REASON_LIMIT = 500
_ENDED_ATTEMPTS = 4


class ExecutionEnded(BaseModel):
    """``detail`` of an EventBridge "Step Functions Execution Status Change" event (what is read)."""

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str = Field(description="the execution's name: the application id (StartExecution)")
    status: Literal["FAILED", "TIMED_OUT", "ABORTED"]
    error: str | None = None
    cause: str | None = None


def ended_reason(ended: ExecutionEnded) -> str:
    """``execution <STATUS>[: <error>][: <cause>]``, at most :data:`REASON_LIMIT` characters."""
    parts = [f"execution {ended.status}", ended.error or "", ended.cause or ""]
    return ": ".join(part for part in parts if part)[:REASON_LIMIT]


def execution_ended_task(ended: ExecutionEnded) -> dict[str, Any]:
    """The execution ended FAILED, TIMED_OUT or ABORTED: fail its application if nothing else will
    finish it. Usually RecordFailure already has (the event follows every failed execution), and a
    repeated event finds the application FAILED: both leave it unchanged.

    Every status before DISBURSING is moved on by the execution alone (a reviewer's verdict or the
    applicant's signature only resumes the execution's task token, which ended with it), so such an
    application would stay where it is forever: → FAILED with the execution's status, error and
    cause, and off the review queue. Terminal statuses and :data:`OWNED_AFTER_THE_EXECUTION` stay.
    The write is conditional on the version read, so a status that changes meanwhile is judged again.
    """
    repo = repository()
    why = ended_reason(ended)
    for _ in range(_ENDED_ATTEMPTS):
        try:
            app = repo.get(ended.name)
        except ApplicationNotFound:
            logger.warning(
                "an ended execution names no application",
                extra={"execution_arn": ended.execution_arn},
            )
            return {"application_id": ended.name, "status": None, "changed": False}
        unchanged = {"application_id": app.id, "status": app.status.value, "changed": False}
        if app.status in TERMINAL:
            return unchanged
        if app.status == S.DISBURSING and _left_to_the_payouts(app.id) is None:
            pass  # no loan was opened, so nothing can have been paid: it fails like the others
        elif app.status in OWNED_AFTER_THE_EXECUTION or not can_transition(app.status, S.FAILED):
            logger.warning(
                "execution ended; the application is left to its owner",
                extra={"status": app.status.value, "reason": why},
            )
            return unchanged
        if app.status == S.IN_REVIEW:
            ReviewQueue(table()).remove(app.id)  # its task token ended with the execution
        try:
            app = repo.transition(
                app.id,
                S.FAILED,
                actor=ACTOR,
                reason=why,
                expected_version=app.version,
                set_fields={"failure_reason": why},
                details={"execution_arn": ended.execution_arn, "execution_status": ended.status},
            )
        except (ConcurrentModification, InvalidTransition):
            continue  # it changed meanwhile: judge the new status
        logger.warning("execution ended without an outcome", extra={"reason": why})
        return {"application_id": app.id, "status": app.status.value, "changed": True}
    raise ConcurrentModification(f"application {ended.name} keeps changing; try again")
