"""DecideFunction (state Decide): the policy's rules and tiers on the score and the checks; moves the
application to APPROVED, IN_REVIEW or DECLINED. Returns the ``decision`` part."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.observability import logger, metrics, tracer
from loanflow.settings import get_settings
from loanflow.workflow import WorkflowState, decide_task

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    logger.append_keys(application_id=state.application_id)
    decision = decide_task(state)
    metrics.add_dimension(name="outcome", value=decision["outcome"])
    metrics.add_metric(name="Decisions", unit=MetricUnit.Count, value=1)
    logger.info("decided", extra={"outcome": decision["outcome"], "tier": decision["tier"]})
    return decision
