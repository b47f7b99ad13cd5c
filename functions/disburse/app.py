"""DisburseFunction (state Disburse): opens the loan (SIGNED → DISBURSING); tier A is paid at once
through the bank's transfer API (→ FUNDED), other tiers wait for the scheduled batch. Exactly once:
the bank's idempotency key is derived from the loan id and an unclear answer is asked about, never
resent blindly. Returns the ``payout`` part."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.observability import logger, metrics, tracer
from loanflow.payouts import Payouts
from loanflow.workflow import WorkflowState


@cache
def payouts() -> Payouts:
    return Payouts.from_environment()


payouts()  # fail at cold start, not at the first event, when the function is misconfigured


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    logger.append_keys(application_id=state.application_id)
    return payouts().disburse(state.application_id)
