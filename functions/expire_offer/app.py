"""ExpireOfferFunction (AwaitSignature's timeout): the unsigned offer expires (→ EXPIRED), unless
the applicant signed at the last moment. Returns the ``expiry`` part: ``{expired, signed}``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.contract import expire_task
from loanflow.observability import logger, tracer
from loanflow.settings import get_settings
from loanflow.workflow import WorkflowState

get_settings()  # fail at cold start, not at the first event, when the function is misconfigured


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = WorkflowState.model_validate(event)
    logger.append_keys(application_id=state.application_id)
    return expire_task(state.application_id)
